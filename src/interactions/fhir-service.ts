import type { CapabilityStatementRestSecurity } from 'fhir/r4.js';
import { FhirError } from '../fhir/errors.js';
import type { StoreSession } from '../store/resource-store.js';
import { processBundle } from './bundle.js';
import { buildCapabilityStatement } from './capability.js';
import { ConformanceResources } from './conformance.js';
import type { RequestContext } from './context.js';
import { CrudInteractions } from './crud.js';
import { dispatch, type DispatchTargets, type InteractionRequest } from './dispatch.js';
import { OperationRegistry } from './operations.js';
import { RawJson, type FhirResponse } from './response.js';
import { SearchInteractions } from './search.js';
import type { ServiceDeps } from './service-deps.js';
import { validateOperation } from './validate-operation.js';

export interface Auditor {
  record(ctx: RequestContext, req: InteractionRequest, status: number, accessed?: { type: string; id: string }[]): Promise<void>;
}

/** The FHIR API without HTTP: everything a request can do, for the REST layer, bundles and tests. */
export class FhirService {
  readonly crud: CrudInteractions;
  readonly search: SearchInteractions;
  readonly operations = new OperationRegistry();
  /** Conformance resources served read-only (the Measures of profiles/). */
  readonly conformance: ConformanceResources;
  /** Set by the security layer: what the CapabilityStatement says about authentication. */
  security?: CapabilityStatementRestSecurity;
  /** Set by the security layer: records access to patient data. */
  auditor?: Auditor;
  private readonly targets: DispatchTargets;
  private readonly capabilityCache = new Map<string, string>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly deps: ServiceDeps,
    private readonly version: string,
  ) {
    this.crud = new CrudInteractions(deps);
    this.search = new SearchInteractions(deps);
    this.conformance = new ConformanceResources(deps.policy);
    this.operations.register(validateOperation(deps));
    this.targets = {
      crud: this.crud,
      search: this.search,
      operations: this.operations,
      bundle: (ctx, body) =>
        processBundle(
          {
            crud: this.crud,
            transaction: (fn) => deps.store.transaction(fn),
            dispatch: (c, r, s) => this.dispatch(c, r, s),
            maxEntries: deps.config.maxBundleEntries,
          },
          ctx,
          body,
        ),
      capabilities: (ctx) => this.capabilities(ctx),
      conformance: this.conformance,
    };
  }

  /**
   * Every request goes through here, from HTTP, bundles and the CLI. Access to patient data is
   * audited here, once per request (a transaction's entries together, with the transaction).
   */
  async dispatch(ctx: RequestContext, req: InteractionRequest, session?: StoreSession): Promise<FhirResponse> {
    if (session) return dispatch(this.targets, ctx, req, session);
    this.inFlight++;
    try {
      return await this.dispatchAudited(ctx, req);
    } finally {
      if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /**
   * Resolves once no request is being handled, or after timeoutMs. Shutdown waits for this before
   * closing the database: a client that hung up does not stop the work its request started, and
   * that work (and its audit record) must still reach the database.
   */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private async dispatchAudited(ctx: RequestContext, req: InteractionRequest): Promise<FhirResponse> {
    if (!this.auditor) return dispatch(this.targets, ctx, req);
    let response: FhirResponse;
    try {
      response = await dispatch(this.targets, ctx, req);
    } catch (err) {
      await this.auditor.record(ctx, req, err instanceof FhirError ? err.status : 500);
      throw err;
    }
    await this.auditor.record(ctx, req, response.status, response.accessed);
    return response;
  }

  /** Built once per base URL: it only changes when the code does. */
  capabilities(ctx: RequestContext): FhirResponse {
    let text = this.capabilityCache.get(ctx.baseUrl);
    if (!text) {
      text = JSON.stringify(
        buildCapabilityStatement(ctx.baseUrl, {
          registry: this.deps.store.registry,
          operations: this.operations,
          conformance: this.conformance,
          version: this.version,
          security: this.security,
          profilesFor: (type) => this.deps.validator.profilesFor?.(type) ?? [],
        }),
      );
      this.capabilityCache.set(ctx.baseUrl, text);
    }
    return { status: 200, headers: {}, body: new RawJson(text) };
  }
}

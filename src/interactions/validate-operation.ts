import type { OperationOutcomeIssue, Parameters } from 'fhir/r4.js';
import { badRequest, FhirError, hasErrors, issue, operationOutcome } from '../fhir/errors.js';
import { localize } from '../i18n/language.js';
import type { StoredResource, StoreSession } from '../store/resource-store.js';
import type { RequestContext } from './context.js';
import type { OperationCall, OperationDef } from './operations.js';
import type { ServiceDeps } from './service-deps.js';

type Obj = Record<string, unknown>;

/** Thrown inside a transaction to undo it once the checks have run. */
class Rollback extends Error {
  constructor(readonly issues: OperationOutcomeIssue[]) {
    super('rollback');
  }
}

const NO_ISSUES = { en: 'Validation found no issues', nl: 'De validatie vond geen problemen', fr: "La validation n'a trouvé aucun problème" };

function readParameters(body: Obj): { resource?: Obj; mode?: string; profiles: string[] } {
  const params = (body as unknown as Parameters).parameter ?? [];
  const resource = params.find((p) => p.name === 'resource')?.resource as Obj | undefined;
  const mode = params.find((p) => p.name === 'mode')?.valueCode ?? params.find((p) => p.name === 'mode')?.valueString;
  const profiles = params.filter((p) => p.name === 'profile').map((p) => p.valueUri ?? p.valueCanonical ?? p.valueString ?? '').filter(Boolean);
  return { resource, mode, profiles };
}

/** $validate (R4 OperationDefinition Resource-validate), on a type or an instance. */
export function validateOperation(deps: ServiceDeps): OperationDef {
  return {
    name: 'validate',
    scopes: ['type', 'instance'],
    idempotent: true,
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
    documentation: 'Validates a resource against the base specification, its meta.profile, the profile required for its type and the business rules; always answers an OperationOutcome',
    async handler(ctx: RequestContext, call: OperationCall) {
      const type = call.type!;
      await deps.policy.checkInteraction(ctx, 'operation', type);
      let resource: Obj | undefined;
      let mode: string | undefined = call.params.find(([k]) => k === 'mode')?.[1];
      const profiles = call.params.filter(([k]) => k === 'profile').map(([, v]) => v);
      if (call.body !== undefined) {
        if (!call.body || typeof call.body !== 'object' || Array.isArray(call.body)) throw badRequest('$validate takes a resource or a Parameters resource');
        const body = call.body as Obj;
        if (body.resourceType === 'Parameters') {
          const p = readParameters(body);
          resource = p.resource;
          mode = p.mode ?? mode;
          profiles.push(...p.profiles);
        } else {
          resource = body;
        }
      }
      if (mode !== undefined && !['create', 'update', 'delete', 'profile'].includes(mode)) {
        throw badRequest(`mode must be create, update, delete or profile, not '${mode}'`, 'mode');
      }
      let current: StoredResource | undefined;
      if (call.id) {
        current = await (call.session ?? deps.store.reader()).read(type, call.id);
        if (current && !current.deleted && !(await deps.policy.visible(ctx, [current], call.session?.exec)).length) current = undefined;
        if (!resource && mode !== 'delete') {
          if (!current || current.deleted) throw new FhirError(404, operationOutcome([issue('error', 'not-found', `${type}/${call.id} is not known`)]));
          resource = JSON.parse(current.json!) as Obj;
        }
      }
      const issues: OperationOutcomeIssue[] = [];
      if (mode === 'delete') {
        if (!current || current.deleted) throw new FhirError(404, operationOutcome([issue('error', 'not-found', `${type}/${call.id ?? ''} is not known`)]));
        issues.push(...(await dryRun(deps, async (s) => void (await s.delete(current!)))));
      } else {
        if (!resource) throw badRequest('$validate needs a resource: in the body, or as the "resource" parameter of a Parameters body');
        if (resource.resourceType !== type) {
          throw badRequest(`The resource is a ${String(resource.resourceType)} but the URL is for ${type}`, 'resourceType');
        }
        issues.push(...deps.validator.validate(resource, { lang: ctx.lang, profiles }));
        if (!hasErrors(issues) && mode !== 'profile' && deps.writeChecks.length) {
          const r = resource;
          const previous = mode === 'update' ? current : undefined;
          issues.push(
            ...(await dryRun(deps, async (s) => {
              for (const check of deps.writeChecks) {
                const found = await check(ctx, s, r, previous);
                if (found.length) throw new Rollback(found);
              }
            })),
          );
        }
      }
      const result = issues.length ? issues : [issue('information', 'informational', localize(NO_ISSUES, ctx.lang))];
      return { status: 200, headers: {}, body: operationOutcome(result) };
    },
  };
}

/** Runs checks in a transaction that is always rolled back, and returns what they found. */
async function dryRun(deps: ServiceDeps, fn: (s: StoreSession) => Promise<void>): Promise<OperationOutcomeIssue[]> {
  try {
    await deps.store.transaction(async (s) => {
      await fn(s);
      await s.checkIntegrity();
      throw new Rollback([]);
    });
  } catch (err) {
    if (err instanceof Rollback) return err.issues;
    if (err instanceof FhirError) return err.outcome.issue;
    throw err;
  }
  return [];
}

import type { StoreSession } from '../store/resource-store.js';
import type { RequestContext } from './context.js';
import type { FhirResponse } from './response.js';

export type OperationScope = 'system' | 'type' | 'instance';

export interface OperationCall {
  type?: string;
  id?: string;
  method: 'GET' | 'POST' | 'DELETE';
  params: [string, string][];
  body?: unknown;
  session?: StoreSession;
}

export interface OperationDef {
  /** Without the $, e.g. validate. */
  name: string;
  scopes: OperationScope[];
  /** Types at type or instance level; undefined means all types. */
  types?: readonly string[];
  /** Whether GET is allowed (operations that change nothing). */
  idempotent: boolean;
  /** The methods allowed, when not those that `idempotent` implies (the bulk-export status URL takes DELETE). */
  methods?: readonly ('GET' | 'POST' | 'DELETE')[];
  /** Canonical URL of the OperationDefinition, for the CapabilityStatement. */
  definition: string;
  documentation: string;
  handler(ctx: RequestContext, call: OperationCall): Promise<FhirResponse>;
}

/** Named operations ($validate, $check-consortium, ...), registered by the modules that provide them. */
export class OperationRegistry {
  private readonly ops = new Map<string, OperationDef>();

  register(def: OperationDef): void {
    if (this.ops.has(def.name)) throw new Error(`Operation $${def.name} is registered twice`);
    this.ops.set(def.name, def);
  }

  get(name: string): OperationDef | undefined {
    return this.ops.get(name);
  }

  all(): OperationDef[] {
    return [...this.ops.values()];
  }
}

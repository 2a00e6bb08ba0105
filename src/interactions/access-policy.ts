import type { AnyCriterion } from '../search/search-request.js';
import type { StoredResource } from '../store/resource-store.js';
import type { SqlExecutor } from '../store/database.js';
import type { RequestContext } from './context.js';

export type Interaction = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'patch' | 'delete' | 'operation';

/**
 * What the interactions ask the security layer. Every read path (read, vread, search results,
 * includes, history, bundle entries) and every write path goes through one of these methods.
 */
export interface AccessPolicy {
  /** May the caller perform this interaction on this type at all (scopes)? Throws 401/403. */
  checkInteraction(ctx: RequestContext, interaction: Interaction, type: string | undefined): Promise<void>;
  /** Extra search criteria that limit what the caller sees of a type. */
  searchRestrictions(ctx: RequestContext, type: string, exec?: SqlExecutor): Promise<AnyCriterion[]>;
  /** The same for reading the resource of this id (read and vread). */
  readRestrictions(ctx: RequestContext, type: string, exec: SqlExecutor | undefined, id: string): Promise<AnyCriterion[]>;
  /**
   * The resources the caller may see, of those given (for read, history and includes). `exec` is
   * the transaction the caller runs in, if any: the policy must read through it.
   */
  visible(ctx: RequestContext, resources: StoredResource[], exec?: SqlExecutor): Promise<StoredResource[]>;
  /** May the caller write this resource (new content, and the current version if any)? Throws 403/404. */
  checkWrite(ctx: RequestContext, type: string, resource: Record<string, unknown> | undefined, current: StoredResource | undefined, exec?: SqlExecutor): Promise<void>;
}

/** For code paths that run without a caller: the CLI importing files, the sync worker. */
export const TRUSTED_POLICY: AccessPolicy = {
  checkInteraction: async () => undefined,
  searchRestrictions: async () => [],
  readRestrictions: async () => [],
  visible: async (_ctx, resources) => resources,
  checkWrite: async () => undefined,
};

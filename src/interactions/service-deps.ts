import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Config } from '../config.js';
import type { Language } from '../i18n/language.js';
import type { SearchRequestParser } from '../search/search-request.js';
import type { ResourceStore, StoredResource, StoreSession } from '../store/resource-store.js';
import type { AccessPolicy } from './access-policy.js';
import type { RequestContext } from './context.js';

/** The part of the validator that interactions use (src/validation implements it). */
export interface Validator {
  validate(resource: unknown, options?: { profiles?: string[]; lang?: Language; baseOnly?: boolean }): OperationOutcomeIssue[];
  profileUrls(): string[];
  /** The profiles of ours that constrain a type (for the CapabilityStatement's supportedProfile). */
  profilesFor?(type: string): string[];
}

/**
 * Checks that run inside the write transaction after validation, with database access: the
 * care-team and consortium rules hook in here. They return issues; errors refuse the write.
 */
export type WriteCheck = (
  ctx: RequestContext,
  session: StoreSession,
  resource: Record<string, unknown>,
  previous: StoredResource | undefined,
) => Promise<OperationOutcomeIssue[]>;

export interface ServiceDeps {
  store: ResourceStore;
  validator: Validator;
  policy: AccessPolicy;
  parser: SearchRequestParser;
  config: Pick<Config, 'defaultPageSize' | 'maxPageSize' | 'maxBundleEntries'>;
  writeChecks: WriteCheck[];
}

import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Language } from '../i18n/language.js';
import { issue, type IssueCode, type IssueSeverity } from '../fhir/errors.js';
import { message, type MessageId } from './messages.js';

export type Json = Record<string, unknown>;

/**
 * What one top-level resource (and the resources contained in it) shares while it is walked:
 * the container for %rootResource and ref-1, and the references seen, for dom-3.
 */
export interface ResourceScope {
  root: Json;
  /** ids of root.contained, for `#id` references (ref-1) and their target types. */
  containedTypes: Map<string, string>;
  /** Every Reference.reference and canonical/uri/url value seen in the resource; only collected when it has contained resources. */
  refs: Set<string> | undefined;
  /** Indexes of contained resources that hold a reference to '#' (their container), which also satisfies dom-3. */
  refersToContainer: Set<number> | undefined;
  /** Index of the contained resource being walked, -1 outside contained. */
  containedIndex: number;
}

/** fullUrl -> resourceType of the entries of the Bundle being validated, to resolve urn:uuid: references. */
export type BundleScope = Map<string, string>;

/** The mutable state of one validate() call. Created per call, never shared between calls. */
export interface Ctx {
  readonly issues: OperationOutcomeIssue[];
  readonly lang: Language;
  /** %resource: the resource whose elements are being walked. */
  resource: Json;
  /** Where that resource starts in the location of the issues (`Bundle.entry[2].resource`). */
  resourcePath: string;
  /** Definition path of the primitive whose `_element` is being walked (HumanName.family), for extension contexts. */
  primitivePath?: string;
  scope: ResourceScope;
  bundle: BundleScope | undefined;
  depth: number;
  /** Required profiles per type (none when only the base spec is checked); applied to the resource and to Bundle entries, not to contained resources. */
  readonly required: Partial<Record<string, string[]>> | undefined;
  /** Profiles explicitly asked for by the caller: they apply to the top-level resource only. */
  readonly explicitProfiles: string[] | undefined;
  /** The R4 resource types, to tell a reference's type segment from other URL path segments. */
  readonly resourceTypes: ReadonlySet<string>;
  /** Set when issues were dropped after MAX_ISSUES. */
  truncated?: boolean;
  errorCount?: number;
  otherCount?: number;
}

/** Beyond this many errors (or this many warnings) listing more only costs memory and time. */
export const MAX_ISSUES = 1000;

export function report(
  ctx: Ctx,
  severity: IssueSeverity,
  code: IssueCode,
  path: string,
  id: MessageId,
  params: Record<string, unknown> = {},
): void {
  // Counted per kind: a definition Bundle with thousands of warnings must still show its errors.
  const isError = severity === 'error' || severity === 'fatal';
  const count = isError ? (ctx.errorCount = (ctx.errorCount ?? 0) + 1) : (ctx.otherCount = (ctx.otherCount ?? 0) + 1);
  if (count > MAX_ISSUES) {
    ctx.truncated = true;
    return;
  }
  const found = issue(severity, code, message(id, ctx.lang, { path, ...params }), path);
  // The key of a failed constraint (ele-1, dom-6, icr-cp-1...), for software that reads issues.
  if (typeof params.key === 'string') found.details!.coding = [{ system: CONSTRAINT_SYSTEM, code: params.key }];
  ctx.issues.push(found);
}

export const CONSTRAINT_SYSTEM = 'https://fhir.integrated-care.be/validation/constraint';

/** Where a failed check comes from, for messages: empty for the base specification. */
export function sourceSuffix(ctx: Ctx, source: string | undefined): string {
  return source ? message('bySource', ctx.lang, { source }) : '';
}

const NO_CONTAINED: Map<string, string> = new Map();

export function newScope(root: Json): ResourceScope {
  const contained = root.contained;
  if (!Array.isArray(contained) || contained.length === 0) {
    // The common case: no contained resources, nothing to collect.
    return { root, containedTypes: NO_CONTAINED, refs: undefined, refersToContainer: undefined, containedIndex: -1 };
  }
  const containedTypes = new Map<string, string>();
  let hasContained = false;
  if (Array.isArray(contained)) {
    for (const c of contained) {
      if (c && typeof c === 'object' && !Array.isArray(c)) {
        const r = c as Json;
        if (typeof r.id === 'string') containedTypes.set(r.id, typeof r.resourceType === 'string' ? r.resourceType : '');
        hasContained = true;
      }
    }
  }
  return {
    root,
    containedTypes,
    refs: hasContained ? new Set() : undefined,
    refersToContainer: hasContained ? new Set() : undefined,
    containedIndex: -1,
  };
}

const INDEX_CACHE: string[] = [];
for (let i = 0; i < 256; i++) INDEX_CACHE.push(`[${i}]`);

/** `[i]`, cached: the validator builds a location for every array item it walks. */
export function idx(i: number): string {
  return i < 256 ? INDEX_CACHE[i] : `[${i}]`;
}

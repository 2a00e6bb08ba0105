import type { ElementDefinitionConstraint } from 'fhir/r4.js';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import type { Language } from '../i18n/language.js';
import { report, type Ctx, type Json } from './context.js';
import { isValidSsin } from './ssin.js';

/**
 * FHIRPath invariants. Each constraint is compiled once. The base specification's common
 * invariants have native implementations, used only when the constraint's expression is exactly
 * the one implemented (so a profile that reuses a key with another expression still gets
 * fhirpath.js); everything else is compiled with fhirpath.compile and run where its element occurs.
 * fhirpath.js costs several microseconds per evaluation, so a resource with a dozen of the common
 * invariants would spend most of its validation time in them.
 *
 * Pass/fail follows the HL7 validator: only a result that converts to `true` passes. The native
 * versions implement the expressions; where FHIRPath answers "empty" because two values are not
 * comparable (per-1 with dates of different precision, rng-2 with different units), they follow
 * the rule's intent and pass, as the invariant-fixing work on the spec does.
 */

export interface CompiledInvariant {
  readonly key: string;
  readonly severity: 'error' | 'warning';
  readonly expression: string;
  readonly native: boolean;
  /** Evaluates the invariant on one occurrence of its element; reports when it fails. */
  check(node: unknown, path: string, ctx: Ctx): void;
}

type NativeTest = (node: Json, ctx: Ctx) => boolean;

const UCUM = 'http://unitsofmeasure.org';

function has(o: Json, key: string): boolean {
  const v = o[key];
  if (v !== undefined && v !== null) return !Array.isArray(v) || v.length > 0;
  const e = o['_' + key];
  return e !== undefined && e !== null;
}

function hasAnyPrefix(o: Json, prefix: string): boolean {
  for (const k in o) {
    if (k.length > prefix.length && k.startsWith(prefix)) {
      const c = k.charCodeAt(prefix.length);
      if (c >= 65 && c <= 90 && o[k] !== undefined && o[k] !== null) return true;
    }
    if (k.length > prefix.length + 1 && k.startsWith('_' + prefix)) {
      const c = k.charCodeAt(prefix.length + 1);
      if (c >= 65 && c <= 90) return true;
    }
  }
  return false;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

function codings(cc: unknown): Json[] {
  return arr(obj(cc)?.coding).map(obj).filter((c): c is Json => c !== undefined);
}

function hasCoding(cc: unknown, system: string, codes: string[]): boolean {
  return codings(cc).some((c) => c.system === system && codes.includes(c.code as string));
}

/** Compares two FHIR date/dateTime/instant strings at their common precision; undefined when equal there. */
function compareDates(a: string, b: string): number | undefined {
  const ta = Date.parse(a.length === 4 ? `${a}-01-01` : a.length === 7 ? `${a}-01` : a);
  const tb = Date.parse(b.length === 4 ? `${b}-01-01` : b.length === 7 ? `${b}-01` : b);
  const precision = Math.min(a.length, b.length);
  if (a.length === b.length || (a.length > 10 && b.length > 10)) {
    if (Number.isNaN(ta) || Number.isNaN(tb)) return undefined;
    return ta === tb ? 0 : ta < tb ? -1 : 1;
  }
  const pa = a.slice(0, Math.min(precision, 10));
  const pb = b.slice(0, Math.min(precision, 10));
  if (pa === pb) return undefined;
  return pa < pb ? -1 : 1;
}

function quantityLe(low: unknown, high: unknown): boolean {
  const l = obj(low);
  const h = obj(high);
  if (!l || !h || typeof l.value !== 'number' || typeof h.value !== 'number') return true;
  const sameUnit = (l.system ?? null) === (h.system ?? null) && (l.code ?? l.unit ?? null) === (h.code ?? h.unit ?? null);
  return !sameUnit || l.value <= h.value;
}

const TIMING_WHEN_EVENT = new Set(['C', 'CM', 'CD', 'CV']);

/** Native implementations, keyed by constraint key, each valid only for exactly this expression. */
const NATIVE: Record<string, { expression: string; test: NativeTest }> = {
  'per-1': {
    expression: 'start.hasValue().not() or end.hasValue().not() or (start <= end)',
    test: (o) => {
      if (typeof o.start !== 'string' || typeof o.end !== 'string') return true;
      const c = compareDates(o.start, o.end);
      return c === undefined || c <= 0;
    },
  },
  'rng-2': {
    expression: 'low.empty() or high.empty() or (low <= high)',
    test: (o) => quantityLe(o.low, o.high),
  },
  'rat-1': {
    expression: '(numerator.empty() xor denominator.exists()) and (numerator.exists() or extension.exists())',
    test: (o) => has(o, 'numerator') === has(o, 'denominator') && (has(o, 'numerator') || has(o, 'extension')),
  },
  'cpt-2': { expression: 'value.empty() or system.exists()', test: (o) => !has(o, 'value') || has(o, 'system') },
  'att-1': { expression: 'data.empty() or contentType.exists()', test: (o) => !has(o, 'data') || has(o, 'contentType') },
  'qty-3': { expression: 'code.empty() or system.exists()', test: (o) => !has(o, 'code') || has(o, 'system') },
  'sqty-1': { expression: 'comparator.empty()', test: (o) => !has(o, 'comparator') },
  'age-1': {
    expression: '(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (value.empty() or value.hasValue().not() or value > 0)',
    test: (o) =>
      (has(o, 'code') || !has(o, 'value')) &&
      (!has(o, 'system') || o.system === UCUM) &&
      (typeof o.value !== 'number' || o.value > 0),
  },
  'cnt-3': {
    expression:
      "(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (code.empty() or code = '1') and (value.empty() or value.hasValue().not() or value.toString().contains('.').not())",
    test: (o) =>
      (has(o, 'code') || !has(o, 'value')) &&
      (!has(o, 'system') || o.system === UCUM) &&
      (!has(o, 'code') || o.code === '1') &&
      (typeof o.value !== 'number' || Number.isInteger(o.value)),
  },
  'dis-1': {
    expression: '(code.exists() or value.empty()) and (system.empty() or system = %ucum)',
    test: (o) => (has(o, 'code') || !has(o, 'value')) && (!has(o, 'system') || o.system === UCUM),
  },
  'drt-1': {
    expression: 'code.exists() implies ((system = %ucum) and value.exists())',
    test: (o) => !has(o, 'code') || (o.system === UCUM && has(o, 'value')),
  },
  'mqty-1': {
    expression: "(code.exists() or value.empty()) and (system.empty() or system = 'urn:iso:std:iso:4217')",
    test: (o) => (has(o, 'code') || !has(o, 'value')) && (!has(o, 'system') || o.system === 'urn:iso:std:iso:4217'),
  },
  'tim-1': { expression: 'duration.empty() or durationUnit.exists()', test: (o) => !has(o, 'duration') || has(o, 'durationUnit') },
  'tim-2': { expression: 'period.empty() or periodUnit.exists()', test: (o) => !has(o, 'period') || has(o, 'periodUnit') },
  'tim-4': { expression: 'duration.exists() implies duration >= 0', test: (o) => typeof o.duration !== 'number' || o.duration >= 0 },
  'tim-5': { expression: 'period.exists() implies period >= 0', test: (o) => typeof o.period !== 'number' || o.period >= 0 },
  'tim-6': { expression: 'periodMax.empty() or period.exists()', test: (o) => !has(o, 'periodMax') || has(o, 'period') },
  'tim-7': { expression: 'durationMax.empty() or duration.exists()', test: (o) => !has(o, 'durationMax') || has(o, 'duration') },
  'tim-8': { expression: 'countMax.empty() or count.exists()', test: (o) => !has(o, 'countMax') || has(o, 'count') },
  'tim-9': {
    expression: "offset.empty() or (when.exists() and when.select($this in ('C' | 'CM' | 'CD' | 'CV')).allFalse())",
    test: (o) => !has(o, 'offset') || (has(o, 'when') && arr(o.when).every((w) => !TIMING_WHEN_EVENT.has(w as string))),
  },
  'tim-10': { expression: 'timeOfDay.empty() or when.empty()', test: (o) => !has(o, 'timeOfDay') || !has(o, 'when') },
  'drq-1': { expression: 'path.exists() xor searchParam.exists()', test: (o) => has(o, 'path') !== has(o, 'searchParam') },
  'drq-2': { expression: 'path.exists() xor searchParam.exists()', test: (o) => has(o, 'path') !== has(o, 'searchParam') },
  'exp-1': { expression: 'expression.exists() or reference.exists()', test: (o) => has(o, 'expression') || has(o, 'reference') },
  'trd-1': { expression: 'data.empty() or timing.empty()', test: (o) => !has(o, 'data') || !hasAnyPrefix(o, 'timing') },
  'trd-2': { expression: 'condition.exists() implies data.exists()', test: (o) => !has(o, 'condition') || has(o, 'data') },
  'trd-3': {
    expression: "(type = 'named-event' implies name.exists()) and (type = 'periodic' implies timing.exists()) and (type.startsWith('data-') implies data.exists())",
    test: (o) =>
      (o.type !== 'named-event' || has(o, 'name')) &&
      (o.type !== 'periodic' || hasAnyPrefix(o, 'timing')) &&
      (typeof o.type !== 'string' || !o.type.startsWith('data-') || has(o, 'data')),
  },
  'dom-2': {
    expression: 'contained.contained.empty()',
    test: (o) => arr(o.contained).every((c) => !has(obj(c) ?? {}, 'contained')),
  },
  'dom-4': {
    expression: 'contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()',
    test: (o) =>
      arr(o.contained).every((c) => {
        const meta = obj(obj(c)?.meta);
        return !meta || (!has(meta, 'versionId') && !has(meta, 'lastUpdated'));
      }),
  },
  'dom-5': {
    expression: 'contained.meta.security.empty()',
    test: (o) => arr(o.contained).every((c) => !has(obj(obj(c)?.meta) ?? {}, 'security')),
  },
  'dom-6': {
    expression: 'text.`div`.exists()',
    // Contained resources carry no narrative of their own: the container's narrative covers them.
    test: (o, ctx) => ctx.scope.containedIndex >= 0 || has(obj(o.text) ?? {}, 'div'),
  },
  'bdl-1': {
    expression: "total.empty() or (type = 'searchset') or (type = 'history')",
    test: (o) => !has(o, 'total') || o.type === 'searchset' || o.type === 'history',
  },
  'bdl-2': {
    expression: "entry.search.empty() or (type = 'searchset')",
    test: (o) => o.type === 'searchset' || arr(o.entry).every((e) => !has(obj(e) ?? {}, 'search')),
  },
  'bdl-3': {
    expression: "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or %resource.type = 'history'))",
    test: (o) => {
      const wanted = o.type === 'batch' || o.type === 'transaction' || o.type === 'history';
      return arr(o.entry).every((e) => has(obj(e) ?? {}, 'request') === wanted);
    },
  },
  'bdl-4': {
    expression: "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' or %resource.type = 'history'))",
    test: (o) => {
      const wanted = o.type === 'batch-response' || o.type === 'transaction-response' || o.type === 'history';
      return arr(o.entry).every((e) => has(obj(e) ?? {}, 'response') === wanted);
    },
  },
  'bdl-9': {
    expression: "type = 'document' implies (identifier.system.exists() and identifier.value.exists())",
    test: (o) => o.type !== 'document' || (has(obj(o.identifier) ?? {}, 'system') && has(obj(o.identifier) ?? {}, 'value')),
  },
  'bdl-10': {
    expression: "type = 'document' implies (timestamp.hasValue())",
    test: (o) => o.type !== 'document' || typeof o.timestamp === 'string',
  },
  'bdl-11': {
    expression: "type = 'document' implies entry.first().resource.is(Composition)",
    test: (o) => o.type !== 'document' || obj(obj(arr(o.entry)[0])?.resource)?.resourceType === 'Composition',
  },
  'bdl-12': {
    expression: "type = 'message' implies entry.first().resource.is(MessageHeader)",
    test: (o) => o.type !== 'message' || obj(obj(arr(o.entry)[0])?.resource)?.resourceType === 'MessageHeader',
  },
  'bdl-5': {
    expression: 'resource.exists() or request.exists() or response.exists()',
    test: (o) => has(o, 'resource') || has(o, 'request') || has(o, 'response'),
  },
  'bdl-8': {
    expression: "fullUrl.exists() implies fullUrl.contains('/_history/').not()",
    test: (o) => typeof o.fullUrl !== 'string' || !o.fullUrl.includes('/_history/'),
  },
  'cpl-3': { expression: 'detail.empty() or reference.empty()', test: (o) => !has(o, 'detail') || !has(o, 'reference') },
  'con-1': { expression: 'summary.exists() or assessment.exists()', test: (o) => has(o, 'summary') || has(o, 'assessment') },
  'con-2': { expression: 'code.exists() or detail.exists()', test: (o) => has(o, 'code') || has(o, 'detail') },
  'con-3': {
    expression:
      "clinicalStatus.exists() or verificationStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/condition-ver-status' and code = 'entered-in-error').exists() or category.select($this='problem-list-item').empty()",
    // A CodeableConcept never equals a string, so the select() is empty exactly when category is.
    test: (o) =>
      has(o, 'clinicalStatus') ||
      hasCoding(o.verificationStatus, 'http://terminology.hl7.org/CodeSystem/condition-ver-status', ['entered-in-error']) ||
      !has(o, 'category'),
  },
  'con-4': {
    expression:
      "abatement.empty() or clinicalStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/condition-clinical' and (code='resolved' or code='remission' or code='inactive')).exists()",
    test: (o) =>
      !hasAnyPrefix(o, 'abatement') ||
      hasCoding(o.clinicalStatus, 'http://terminology.hl7.org/CodeSystem/condition-clinical', ['resolved', 'remission', 'inactive']),
  },
  'con-5': {
    expression:
      "verificationStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/condition-ver-status' and code='entered-in-error').empty() or clinicalStatus.empty()",
    test: (o) =>
      !hasCoding(o.verificationStatus, 'http://terminology.hl7.org/CodeSystem/condition-ver-status', ['entered-in-error']) ||
      !has(o, 'clinicalStatus'),
  },
  'ppc-1': { expression: 'policy.exists() or policyRule.exists()', test: (o) => has(o, 'policy') || has(o, 'policyRule') },
  'ppc-2': {
    expression: "patient.exists() or scope.coding.where(system='something' and code='patient-privacy').exists().not()",
    test: (o) => has(o, 'patient') || !hasCoding(o.scope, 'something', ['patient-privacy']),
  },
  'ppc-3': {
    expression: "patient.exists() or scope.coding.where(system='something' and code='research').exists().not()",
    test: (o) => has(o, 'patient') || !hasCoding(o.scope, 'something', ['research']),
  },
  'ppc-4': {
    expression: "patient.exists() or scope.coding.where(system='something' and code='adr').exists().not()",
    test: (o) => has(o, 'patient') || !hasCoding(o.scope, 'something', ['adr']),
  },
  'ppc-5': {
    expression: "patient.exists() or scope.coding.where(system='something' and code='treatment').exists().not()",
    test: (o) => has(o, 'patient') || !hasCoding(o.scope, 'something', ['treatment']),
  },
  'gol-1': {
    expression: '(detail.exists() and measure.exists()) or detail.exists().not()',
    test: (o) => !hasAnyPrefix(o, 'detail') || has(o, 'measure'),
  },
  'org-1': { expression: '(identifier.count() + name.count()) > 0', test: (o) => has(o, 'identifier') || has(o, 'name') },
  'org-2': { expression: "where(use = 'home').empty()", test: (o) => o.use !== 'home' },
  'org-3': { expression: "where(use = 'home').empty()", test: (o) => o.use !== 'home' },
  'inv-1': {
    expression: '(part.exists() and value.empty() and resource.empty()) or (part.empty() and (value.exists() xor resource.exists()))',
    test: (o) => {
      const part = has(o, 'part');
      const value = hasAnyPrefix(o, 'value');
      const resource = has(o, 'resource');
      return (part && !value && !resource) || (!part && value !== resource);
    },
  },
  'pat-1': {
    expression: 'name.exists() or telecom.exists() or address.exists() or organization.exists()',
    test: (o) => has(o, 'name') || has(o, 'telecom') || has(o, 'address') || has(o, 'organization'),
  },
  'sev-1': { expression: 'name.empty() or query.empty()', test: (o) => !has(o, 'name') || !has(o, 'query') },
  'pdf-0': {
    expression: "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')",
    // As fhirpath.js evaluates it: an absent name gives an empty result (a fail for the HL7
    // validator too), and matches() is not anchored.
    test: (o) => typeof o.name === 'string' && /[A-Z]([A-Za-z0-9_]){0,254}/.test(o.name),
  },
  'ctm-1': {
    expression: 'onBehalfOf.exists() implies (member.resolve().iif(empty(), true, ofType(Practitioner).exists()))',
    // resolve() works on literal references: the type is in the reference itself (Type/id), in the
    // contained resource (#id) or in the Bundle entry (urn:uuid:); unresolvable means true.
    test: (o, ctx) => {
      if (!has(o, 'onBehalfOf')) return true;
      const ref = obj(o.member)?.reference;
      if (typeof ref !== 'string') return true;
      const type = referencedType(ref, ctx);
      return type === undefined || type === 'Practitioner';
    },
  },
  // ElementDefinition path rules: the spec's Java regexes escape a quote (\') which JavaScript
  // refuses in Unicode mode, so fhirpath.js cannot compile them.
  'eld-16': {
    expression: String.raw`sliceName.empty() or sliceName.matches('^[a-zA-Z0-9\\/\\-_\\[\\]\\@]+$')`,
    test: (o) => typeof o.sliceName !== 'string' || /^[a-zA-Z0-9/\-_[\]@]+$/.test(o.sliceName),
  },
  'eld-19': {
    expression: String.raw`path.matches('[^\\s\\.,:;\\\'"\\/|?!@#$%&*()\\[\\]{}]{1,64}(\\.[^\\s\\.,:;\\\'"\\/|?!@#$%&*()\\[\\]{}]{1,64}(\\[x\\])?(\\:[^\\s\\.]+)?)*')`,
    test: (o) => typeof o.path !== 'string' || /[^\s.,:;'"/|?!@#$%&*()[\]{}]{1,64}(\.[^\s.,:;'"/|?!@#$%&*()[\]{}]{1,64}(\[x\])?(:[^\s.]+)?)*/.test(o.path),
  },
  'eld-20': {
    expression: String.raw`path.matches('[A-Za-z][A-Za-z0-9]*(\\.[a-z][A-Za-z0-9]*(\\[x])?)*')`,
    test: (o) => typeof o.path !== 'string' || /[A-Za-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*(\[x])?)*/.test(o.path),
  },
  // The project's own invariants (profiles/), implemented natively for the same reason.
  'icr-ssin-1': {
    expression: "value.exists() implies value.matches('^[0-9]{11}$')",
    test: (o) => typeof o.value !== 'string' || /^[0-9]{11}$/.test(o.value),
  },
  'icr-ssin-2': {
    expression:
      "value.matches('^[0-9]{11}$') implies ((97 - (value.substring(0, 9).toInteger() mod 97)) = value.substring(9, 2).toInteger() or (97 - ((value.substring(0, 9).toInteger() + 2000000000) mod 97)) = value.substring(9, 2).toInteger())",
    test: (o) => typeof o.value !== 'string' || !/^[0-9]{11}$/.test(o.value) || isValidSsin(o.value),
  },
  'icr-nihdi-1': {
    expression: "value.exists() implies value.matches('^[0-9]{8}([0-9]{3})?$')",
    test: (o) => typeof o.value !== 'string' || /^[0-9]{8}([0-9]{3})?$/.test(o.value),
  },
  'icr-cbe-1': {
    expression: "value.exists() implies value.matches('^[01][0-9]{9}$')",
    test: (o) => typeof o.value !== 'string' || /^[01][0-9]{9}$/.test(o.value),
  },
  'icr-cpl-1': {
    expression: "status = 'active' implies addresses.exists()",
    test: (o) => o.status !== 'active' || has(o, 'addresses'),
  },
};

/**
 * Invariants the structure compiler checks as part of walking the structure (ele-1 in every
 * element, ext-1 in Extension, txt-1/txt-2 in Narrative.div, ref-1 in Reference, dom-3 at the
 * resource root, bdl-7 in Bundle): compiling them separately would only evaluate them twice.
 */
export const STRUCTURAL: Record<string, string> = {
  'ele-1': 'hasValue() or (children().count() > id.count())',
  'ext-1': 'extension.exists() != value.exists()',
  'txt-1': 'htmlChecks()',
  'txt-2': 'htmlChecks()',
  'ref-1': "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
  'dom-3':
    "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
  'bdl-7': "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
};

export function isStructural(c: ElementDefinitionConstraint): boolean {
  return STRUCTURAL[c.key] !== undefined && STRUCTURAL[c.key] === c.expression;
}

/** The type a literal reference points to, if it can be told without fetching anything. */
export function referencedType(ref: string, ctx: Ctx): string | undefined {
  if (ref.startsWith('#')) {
    const t = ctx.scope.containedTypes.get(ref.slice(1));
    return t || undefined;
  }
  if (ref.startsWith('urn:')) return ctx.bundle?.get(ref);
  const hist = ref.indexOf('/_history/');
  const plain = hist >= 0 ? ref.slice(0, hist) : ref;
  const q = plain.indexOf('?');
  const noQuery = q >= 0 ? plain.slice(0, q) : plain;
  const parts = noQuery.split('/');
  if (parts.length < 2) return undefined;
  const type = parts[parts.length - 2];
  // Only a real resource type counts: http://.../vhdir/Network/x is an Organization profile's URL, not a type.
  return ctx.resourceTypes.has(type) ? type : ctx.bundle?.get(ref);
}

/** Text of a constraint in the requested language: our profiles carry translations of `human`. */
function humanText(c: ElementDefinitionConstraint): Record<Language, string> {
  const en = c.human;
  const out: Record<Language, string> = { en, nl: en, fr: en };
  const ext = (c as { _human?: { extension?: Array<{ url: string; extension?: Array<{ url: string; valueCode?: string; valueString?: string }> }> } })._human;
  for (const t of ext?.extension ?? []) {
    if (t.url !== 'http://hl7.org/fhir/StructureDefinition/translation') continue;
    const lang = t.extension?.find((e) => e.url === 'lang')?.valueCode?.slice(0, 2);
    const content = t.extension?.find((e) => e.url === 'content')?.valueString;
    if ((lang === 'nl' || lang === 'fr') && content) out[lang] = content;
  }
  return out;
}

/** A fhirpath.js function compiled on first use and kept. */
type FhirPathFn = (resource: unknown, env: Record<string, unknown>) => unknown[];

/**
 * Compiled expressions, shared: the same constraint recurs in every profile's snapshot (the
 * vital-signs profiles all carry vs-1..vs-3), and a compiled expression keeps no state between calls.
 */
const compiled = new Map<string, FhirPathFn>();

function compileFhirPath(expression: string, base: string): FhirPathFn {
  const key = base + '\u0000' + expression;
  let fn = compiled.get(key);
  if (!fn) {
    // trace() in some spec expressions (ref-1, dom-3) would print to stdout without a trace function.
    fn = fhirpath.compile({ expression, base }, r4model as never, { traceFn: () => undefined }) as unknown as FhirPathFn;
    compiled.set(key, fn);
  }
  return fn;
}

/** The HL7 validator's reading of an invariant's result: only something that converts to true passes. */
function passes(result: unknown[]): boolean {
  if (result.length === 1 && typeof result[0] === 'boolean') return result[0];
  return result.length > 0;
}

export interface InvariantOptions {
  /** Element path (in the StructureDefinition) the constraint is declared on, for fhirpath.js type information. */
  elementPath: string;
  /** Where the constraint comes from, for messages ("by <profile>"). */
  source?: string;
  /** Tests only: never use a native implementation. */
  forceFhirPath?: boolean;
}

export function compileInvariant(c: ElementDefinitionConstraint, options: InvariantOptions): CompiledInvariant | undefined {
  if (!c.expression) return undefined;
  const severity: 'error' | 'warning' = c.severity === 'warning' ? 'warning' : 'error';
  const human = humanText(c);
  const key = c.key;
  const expression = c.expression;
  const fail = (path: string, ctx: Ctx) =>
    report(ctx, severity, 'invariant', path, 'invariant', { key, human: human[ctx.lang] ?? human.en });
  const native = NATIVE[key];
  if (native && native.expression === expression && !options.forceFhirPath) {
    const test = native.test;
    return {
      key,
      severity,
      expression,
      native: true,
      check(node, path, ctx) {
        const o = obj(node);
        if (o && !test(o, ctx)) fail(path, ctx);
      },
    };
  }
  // Compiled now, with the rest of its type: nothing is compiled while a request is validated.
  let fn: FhirPathFn | undefined;
  let broken: string | undefined;
  try {
    fn = compileFhirPath(expression, options.elementPath);
  } catch (e) {
    broken = e instanceof Error ? e.message : String(e);
  }
  return {
    key,
    severity,
    expression,
    native: false,
    check(node, path, ctx) {
      if (fn === undefined) {
        report(ctx, 'warning', 'invariant', path, 'invariantError', { key, error: broken });
        return;
      }
      let result: unknown[];
      try {
        result = fn(node, { resource: ctx.resource, rootResource: ctx.scope.root });
      } catch (e) {
        report(ctx, 'warning', 'invariant', path, 'invariantError', { key, error: e instanceof Error ? e.message : String(e) });
        return;
      }
      if (!passes(result)) fail(path, ctx);
    },
  };
}

/** For tests: the expressions that have native implementations. */
export function nativeInvariantKeys(): string[] {
  return Object.keys(NATIVE);
}

export function nativeExpression(key: string): string | undefined {
  return NATIVE[key]?.expression;
}

import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Language } from '../i18n/language.js';
import type { CodeDisplays } from './code-displays.js';
import { bySeverity, formatList, formatNumber, ruleIssue } from './issues.js';
import { arr, isObj, NIS_SYSTEM, orgLabel, periodCovers, REGION_EXTENSION, str, type Obj } from './model.js';
import type { CompiledRule, ConsortiumRules } from './rule-book.js';
import type { MunicipalityData } from './statbel.js';

/** One municipality of a region as written: its code, boundaries version and where it is. */
export interface RegionCode {
  code: string;
  version?: string;
  /** Index of the extension in Organization.extension. */
  index: number;
  /** The data year's municipalities it covers; undefined when the code is unknown. */
  parts?: string[];
}

export interface Region {
  codes: RegionCode[];
  /** Every municipality of the data year that the region covers, each once. */
  parts: Set<string>;
}

/** The region of a consortium: its icr-region-municipality extensions, resolved against Statbel. */
export function regionOf(org: Obj, data: MunicipalityData): Region {
  const codes: RegionCode[] = [];
  const parts = new Set<string>();
  arr(org.extension).forEach((ext, index) => {
    if (!isObj(ext) || ext.url !== REGION_EXTENSION) return;
    const coding = isObj(ext.valueCoding) ? ext.valueCoding : undefined;
    const code = str(coding?.code) ?? '';
    const version = str(coding?.version);
    const system = str(coding?.system);
    const resolved = system === undefined || system === NIS_SYSTEM ? data.resolve(code, version) : undefined;
    codes.push({ code: version ? `${code} (${version})` : code, version, index, parts: resolved?.parts });
    for (const p of resolved?.parts ?? []) parts.add(p);
  });
  return { codes, parts };
}

/** A consortium as the rules see it: the Organization, its partnerships and where they are. */
export interface ConsortiumInput {
  consortium: Obj;
  /** FHIRPath of the consortium in what the client sent: 'Organization' or 'Bundle.entry[0].resource'. */
  path: string;
  /** Each partnership with its partner Organization (undefined when it cannot be found: it does not count). */
  affiliations: { resource: Obj; partner?: Obj }[];
}

/** Another registered consortium, for the overlap rule. */
export interface OtherConsortium {
  id: string;
  name: string;
  parts: Set<string>;
}

export interface EvaluationContext {
  data: MunicipalityData;
  displays: CodeDisplays;
  lang: Language;
  /** YYYY-MM-DD: partnerships whose period does not cover it do not count. */
  day: string;
}

/** Partnerships that count today: with a known partner, active (not false) and within their period. */
function currentAffiliations(input: ConsortiumInput, day: string) {
  return input.affiliations.filter((a) => a.partner && a.resource.active !== false && periodCovers(a.resource.period, day));
}

/**
 * Checks a consortium against the rules of its call: one issue per rule (or per offending code or
 * overlapping consortium), the rule's severity when it is not met, information when it is.
 */
export function evaluateConsortium(input: ConsortiumInput, rules: ConsortiumRules, others: OtherConsortium[], ctx: EvaluationContext): OperationOutcomeIssue[] {
  const { data, lang } = ctx;
  const issues: OperationOutcomeIssue[] = [];
  const index = partnerIndex(rules);
  // One pass over the partnerships: which partner-category rules each one meets (by its codes,
  // or its specialties for the specialism rules), looked up in the rules' code index.
  const found = new Map<CompiledRule, { affiliation: Obj; partner: Obj | undefined }[]>();
  const other: { affiliation: Obj; partner: Obj | undefined }[] = [];
  for (const a of currentAffiliations(input, ctx.day)) {
    const hit: CompiledRule[] = [];
    collect(a.resource.code, index.byCode, hit);
    collect(a.resource.specialty, index.bySpecialty, hit);
    const entry = { affiliation: a.resource, partner: a.partner };
    if (!hit.length) other.push(entry);
    for (const rule of hit) {
      const list = found.get(rule);
      if (!list) found.set(rule, [entry]);
      else if (list[list.length - 1] !== entry) list.push(entry);
    }
  }
  const label = (e: { affiliation: Obj; partner: Obj | undefined }) => orgLabel(e.partner, e.affiliation.participatingOrganization);
  const region = regionOf(input.consortium, data);
  const regionPath = `${input.path}.extension`;

  for (const rule of rules.rules) {
    const issue = (met: boolean, message: string, params: Record<string, unknown>, expression: string[], code?: OperationOutcomeIssue['code']) =>
      issues.push(ruleIssue(rules, rule, lang, { met, message, params, expression, code }));
    switch (rule.type) {
      case 'partner-category': {
        const matching = found.get(rule) ?? [];
        const labels = [...new Set(matching.map((e) => (rule.match === 'specialty' ? `${label(e)} (${specialtyNames(e.affiliation, ctx)})` : label(e))))];
        const met = labels.length >= rule.min;
        issue(met, met ? 'met' : 'notMet', {
          count: labels.length,
          min: formatNumber(rule.min, lang),
          partners: formatList(labels, lang),
          categories: rule.codings.slice(0, 6).map((c) => ctx.displays.display(c.system, c.code, lang)).join(', '),
        }, [input.path]);
        break;
      }
      case 'other-partners': {
        const labels = [...new Set(other.map(label))];
        issue(labels.length > 0 || rule.severity === 'information', labels.length ? 'met' : 'notMet', { count: labels.length, partners: formatList(labels, lang) }, [input.path]);
        break;
      }
      case 'region-defined':
        issue(region.codes.length > 0, region.codes.length ? 'met' : 'notMet', { count: region.codes.length }, [region.codes.length ? regionPath : input.path]);
        break;
      case 'region-codes-known': {
        const unknown = region.codes.filter((c) => !c.parts);
        for (const c of unknown) issue(false, 'notMet', { code: c.code || '""', year: data.year }, [`${input.path}.extension[${c.index}].valueCoding`], 'code-invalid');
        if (!unknown.length && region.codes.length) issue(true, 'met', { count: region.codes.length, year: data.year }, [regionPath]);
        break;
      }
      case 'region-population': {
        if (!region.codes.length) break;
        const population = data.population(region.parts);
        const met = population >= rule.min;
        issue(met, met ? 'met' : 'notMet', { population: formatNumber(population, lang), min: formatNumber(rule.min, lang), year: data.year, count: region.parts.size }, [regionPath]);
        break;
      }
      case 'region-overlap': {
        if (!region.parts.size) break;
        const selfId = str(input.consortium.id);
        let overlaps = 0;
        const candidates = others.filter((o) => o.id !== selfId);
        for (const other of candidates) {
          const shared = [...region.parts].filter((p) => other.parts.has(p));
          if (!shared.length) continue;
          overlaps++;
          const names = shared.map((p) => `${data.name(p, lang)} (${p})`);
          issue(false, 'notMet', { consortium: other.name, shared: shared.length, municipalities: formatList(names, lang, 12) }, [regionPath]);
        }
        if (!overlaps) issue(true, 'met', { count: candidates.length }, [regionPath]);
        break;
      }
    }
  }
  return bySeverity(issues);
}

/** Partner-category rules by the codes they accept, per rules file (built once). */
const partnerIndexes = new WeakMap<ConsortiumRules, { byCode: Map<string, CompiledRule[]>; bySpecialty: Map<string, CompiledRule[]> }>();

function partnerIndex(rules: ConsortiumRules) {
  let index = partnerIndexes.get(rules);
  if (!index) {
    index = { byCode: new Map(), bySpecialty: new Map() };
    for (const rule of rules.rules) {
      if (rule.type !== 'partner-category') continue;
      const map = rule.match === 'specialty' ? index.bySpecialty : index.byCode;
      for (const key of rule.codes) map.set(key, [...(map.get(key) ?? []), rule]);
    }
    partnerIndexes.set(rules, index);
  }
  return index;
}

/** Adds the rules that accept any coding of these CodeableConcepts (each rule once). */
function collect(concepts: unknown, map: Map<string, CompiledRule[]>, hit: CompiledRule[]): void {
  if (!Array.isArray(concepts)) return;
  for (const concept of concepts) {
    const codings = isObj(concept) ? concept.coding : undefined;
    if (!Array.isArray(codings)) continue;
    for (const c of codings) {
      if (!isObj(c) || typeof c.system !== 'string' || typeof c.code !== 'string') continue;
      const rules = map.get(`${c.system}|${c.code}`);
      if (rules) for (const r of rules) if (!hit.includes(r)) hit.push(r);
    }
  }
}

function specialtyNames(affiliation: Obj, ctx: EvaluationContext): string {
  return arr(affiliation.specialty)
    .flatMap((s) => arr(isObj(s) ? s.coding : undefined))
    .filter(isObj)
    .map((c) => ctx.displays.display(str(c.system), str(c.code), ctx.lang, str(c.display)))
    .join(', ');
}

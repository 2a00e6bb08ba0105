import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude, ValueSetExpansionContains } from 'fhir/r4.js';
import { canonicalUrl, type Registry } from './registry.js';

/** A value set flattened into sets, for O(1) membership tests during validation. */
export interface ValueSetIndex {
  readonly url: string;
  /** Title (or name) for messages. */
  readonly label: string;
  /** Codes of every member, per code system (a Map of Sets: no string building per lookup). */
  readonly members: ReadonlyMap<string, ReadonlySet<string>>;
  /** Bare codes of every member, for `code` elements whose system is implied. */
  readonly codes: ReadonlySet<string>;
  /** The codes listed in messages: all of them when few, otherwise the first ones and the count. */
  readonly sample: string[];
  readonly size: number;
}

/**
 * Code systems that no package here carries completely (SNOMED CT, LOINC, UCUM, ...). A value set
 * that draws on them cannot be expanded, so a binding to it is not checked rather than checked
 * against a truncated list (which would refuse valid codes).
 */
const EXTERNAL_SYSTEMS = new Set([
  'http://snomed.info/sct',
  'http://loinc.org',
  'http://unitsofmeasure.org',
  'urn:ietf:bcp:47',
  'urn:ietf:bcp:13',
  'http://www.nlm.nih.gov/research/umls/rxnorm',
  'http://hl7.org/fhir/sid/icd-10',
  'http://hl7.org/fhir/sid/icd-9-cm',
  'http://hl7.org/fhir/sid/cvx',
  'http://hl7.org/fhir/sid/ndc',
  'urn:iso:std:iso:3166',
  'urn:iso:std:iso:4217',
  'http://www.ama-assn.org/go/cpt',
  'http://dicom.nema.org/resources/ontology/DCM',
]);

/** Beyond this the expansions package truncates (1000 is its limit), so a longer list is not trusted. */
const TRUNCATION_LIMIT = 1000;

function expansionsDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return dirname(require.resolve('hl7.fhir.r4.expansions/package.json'));
  } catch {
    return undefined;
  }
}

function flattenContains(contains: ValueSetExpansionContains[] | undefined, out: Array<[string | undefined, string]>): void {
  for (const c of contains ?? []) {
    if (c.code !== undefined) out.push([c.system, c.code]);
    flattenContains(c.contains, out);
  }
}

function flattenConcepts(concepts: CodeSystemConcept[] | undefined, out: string[]): void {
  for (const c of concepts ?? []) {
    out.push(c.code);
    flattenConcepts(c.concept, out);
  }
}

export interface KnownCodeSystem {
  readonly codes: ReadonlySet<string>;
  readonly caseSensitive: boolean;
  /** Display and designations of each code, as given and normalised (by code, lower-cased when the system is case-insensitive). */
  readonly displays: ReadonlyMap<string, readonly string[]>;
}

/** Displays compare like the HL7 validator does: ignoring case and runs of white space. */
export function normalizeDisplay(display: string): string {
  return display.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Whether a display is one of the known displays (which hold their normalised forms too). */
export function knownDisplay(known: readonly string[], display: string): boolean {
  return known.includes(display) || known.includes(normalizeDisplay(display));
}

/** Whether system#code is in the value set; without a system, whether the code is in it at all. */
export function inValueSet(vs: ValueSetIndex, system: unknown, code: string): boolean {
  if (typeof system !== 'string') return vs.codes.has(code);
  return vs.members.get(system)?.has(code) === true;
}

function makeIndex(url: string, label: string, pairs: Array<[string | undefined, string]>): ValueSetIndex {
  const members = new Map<string, Set<string>>();
  const codes = new Set<string>();
  for (const [system, code] of pairs) {
    const key = system ?? '';
    let set = members.get(key);
    if (!set) members.set(key, (set = new Set()));
    set.add(code);
    codes.add(code);
  }
  const all = [...codes];
  return { url, label, members, codes, sample: all.slice(0, 12), size: all.length };
}

/**
 * Value set expansion for bindings. Sources, in order: the project's own ValueSets (expanded from
 * their compose against the project's CodeSystems), then the official R4 expansions
 * (hl7.fhir.r4.expansions). Anything else answers undefined: the binding is skipped, and why is
 * kept in `skipped` for the documentation.
 */
export class Terminology {
  private readonly cache = new Map<string, ValueSetIndex | undefined>();
  private readonly systems = new Map<string, KnownCodeSystem | null>();
  readonly skipped = new Map<string, string>();
  private readonly dir = expansionsDir();

  constructor(private readonly registry: Registry) {}

  valueSet(ref: string): ValueSetIndex | undefined {
    const url = canonicalUrl(ref);
    if (this.cache.has(url)) return this.cache.get(url);
    this.cache.set(url, undefined); // guards against include.valueSet cycles
    const index = this.expand(url);
    this.cache.set(url, index);
    return index;
  }

  /**
   * The codes of a code system that is known completely here (the R4 code systems, v2 and v3
   * tables, CD-HCPARTY and ours), or undefined. With it a coding is checked even where no binding
   * applies, as the HL7 validator does ("unknown code in code system").
   */
  codeSystem(system: string): KnownCodeSystem | undefined {
    let entry = this.systems.get(system);
    if (entry === undefined) {
      const cs = this.registry.codeSystem(system);
      if (cs && cs.content === 'complete' && cs.concept?.length) {
        const caseSensitive = cs.caseSensitive !== false;
        const displays = new Map<string, string[]>();
        const collect = (concepts: CodeSystemConcept[] | undefined) => {
          for (const c of concepts ?? []) {
            const names = [c.display, ...(c.designation ?? []).map((d) => d.value)].filter((d): d is string => typeof d === 'string');
            // Raw and normalised forms: an exact display is found without normalising anything.
            displays.set(caseSensitive ? c.code : c.code.toLowerCase(), [...new Set([...names, ...names.map(normalizeDisplay)])]);
            collect(c.concept);
          }
        };
        collect(cs.concept);
        entry = { codes: new Set(displays.keys()), caseSensitive, displays };
      } else entry = null;
      this.systems.set(system, entry);
    }
    return entry ?? undefined;
  }

  private expand(url: string): ValueSetIndex | undefined {
    const local = this.registry.valueSet(url);
    if (local) {
      const pairs = this.expandCompose(local);
      if (pairs) return makeIndex(url, local.title ?? local.name ?? url, pairs);
      this.skipped.set(url, 'compose uses filters or code systems that are not available');
      return undefined;
    }
    const official = this.readOfficialExpansion(url);
    if (official) return official;
    return undefined;
  }

  private readOfficialExpansion(url: string): ValueSetIndex | undefined {
    if (!this.dir) {
      this.skipped.set(url, 'hl7.fhir.r4.expansions is not installed');
      return undefined;
    }
    const id = url.slice(url.lastIndexOf('/') + 1);
    const file = join(this.dir, `ValueSet-${id}.json`);
    if (!/^[A-Za-z0-9\-.]+$/.test(id) || !existsSync(file)) {
      this.skipped.set(url, 'no expansion in hl7.fhir.r4.expansions');
      return undefined;
    }
    const vs = JSON.parse(readFileSync(file, 'utf8')) as ValueSet;
    if (vs.url !== url || !vs.expansion) {
      this.skipped.set(url, 'no expansion in hl7.fhir.r4.expansions');
      return undefined;
    }
    const pairs: Array<[string | undefined, string]> = [];
    flattenContains(vs.expansion.contains, pairs);
    // An enumerated list of SNOMED CT or UCUM codes (units-of-time) is complete; an include of a whole
    // external terminology, or of a filter on it, is not.
    const includes = vs.compose?.include ?? [];
    const partial = includes.some((i) => i.filter?.length || (i.system !== undefined && EXTERNAL_SYSTEMS.has(i.system) && !i.concept?.length));
    const complete = vs.expansion.total !== undefined ? vs.expansion.total === pairs.length : true;
    if (partial || !complete || pairs.length >= TRUNCATION_LIMIT || pairs.length === 0) {
      this.skipped.set(url, partial ? 'draws on an external terminology (SNOMED CT, LOINC, UCUM, ...) or a filter' : 'the packaged expansion is incomplete');
      return undefined;
    }
    return makeIndex(url, vs.title ?? vs.name ?? url, pairs);
  }

  /** Expands a compose whose includes list concepts or whole complete CodeSystems; undefined otherwise. */
  private expandCompose(vs: ValueSet): Array<[string | undefined, string]> | undefined {
    const include = vs.compose?.include ?? [];
    const exclude = vs.compose?.exclude ?? [];
    const pairs: Array<[string | undefined, string]> = [];
    for (const inc of include) {
      const part = this.expandInclude(inc);
      if (!part) return undefined;
      pairs.push(...part);
    }
    if (exclude.length) {
      const removed = new Set<string>();
      for (const exc of exclude) {
        const part = this.expandInclude(exc);
        if (!part) return undefined;
        for (const [s, c] of part) removed.add(`${s ?? ''}|${c}`);
      }
      return pairs.filter(([s, c]) => !removed.has(`${s ?? ''}|${c}`));
    }
    return pairs;
  }

  private expandInclude(inc: ValueSetComposeInclude): Array<[string | undefined, string]> | undefined {
    if (inc.filter?.length) return undefined;
    let pairs: Array<[string | undefined, string]> | undefined;
    if (inc.system !== undefined) {
      if (inc.concept?.length) {
        pairs = inc.concept.map((c) => [inc.system, c.code]);
      } else {
        const cs: CodeSystem | undefined = this.registry.codeSystem(inc.system);
        if (!cs || cs.content !== 'complete') return undefined;
        const codes: string[] = [];
        flattenConcepts(cs.concept, codes);
        pairs = codes.map((c) => [inc.system, c]);
      }
    }
    for (const ref of inc.valueSet ?? []) {
      const other = this.valueSet(ref);
      if (!other) return undefined;
      const otherPairs: Array<[string | undefined, string]> = [];
      for (const [system, codes] of other.members) for (const c of codes) otherPairs.push([system || undefined, c]);
      // Several include.valueSet entries intersect; a system plus valueSet also intersects.
      if (pairs === undefined) pairs = otherPairs;
      else {
        const keep = new Set(otherPairs.map(([s, c]) => `${s ?? ''}|${c}`));
        pairs = pairs.filter(([s, c]) => keep.has(`${s ?? ''}|${c}`));
      }
    }
    return pairs ?? [];
  }
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LANGUAGES, type Localized } from '../i18n/language.js';

/**
 * The rules files in profiles/rules: versioned JSON, one per call for projects (consortium rules)
 * and per set of care-team rules. This module reads and checks them once at start-up and compiles
 * the codes of each rule into sets; evaluating a rule is then set lookups only.
 */

export type RuleSeverity = 'error' | 'warning' | 'information';
export type RulesKind = 'consortium' | 'care-team';

/** The rule types that the engine implements, and the placeholders their messages may use. */
export const RULE_TYPES = {
  consortium: {
    'partner-category': { codes: true, messages: ['met', 'notMet'], placeholders: ['count', 'min', 'partners', 'categories'] },
    'region-defined': { codes: false, messages: ['met', 'notMet'], placeholders: ['count'] },
    'region-codes-known': { codes: false, messages: ['met', 'notMet'], placeholders: ['count', 'code', 'year'] },
    'region-population': { codes: false, messages: ['met', 'notMet'], placeholders: ['population', 'min', 'year', 'count'] },
    'region-overlap': { codes: false, messages: ['met', 'notMet'], placeholders: ['count', 'consortium', 'municipalities', 'shared'] },
    'other-partners': { codes: false, messages: ['met', 'notMet'], placeholders: ['count', 'partners'] },
  },
  'care-team': {
    'subject-participant': { codes: false, messages: ['met', 'notMet'], placeholders: [] },
    role: { codes: true, messages: ['met', 'notMet'], placeholders: ['count', 'min', 'roles', 'members'] },
    'participant-period': { codes: false, messages: ['met', 'notMet'], placeholders: ['count', 'participant'] },
    'consortium-partner': {
      codes: false,
      messages: ['met', 'notMet', 'noConsortium', 'noOrganization'],
      placeholders: ['count', 'participant', 'organization', 'consortium', 'municipality'],
    },
  },
} as const satisfies Record<RulesKind, Record<string, { codes: boolean; messages: readonly string[]; placeholders: readonly string[] }>>;

export type ConsortiumRuleType = keyof (typeof RULE_TYPES)['consortium'];
export type CareTeamRuleType = keyof (typeof RULE_TYPES)['care-team'];

/** A rule as it is written in a rules file, with its codes compiled. */
export interface CompiledRule<T extends string = string> {
  id: string;
  type: T;
  severity: RuleSeverity;
  title: Localized;
  /** The passage of the source text the rule comes from. */
  source?: string;
  min: number;
  /** partner-category: what is compared with the codes (the affiliation's code or its specialty). */
  match: 'code' | 'specialty';
  /** Accepted codes as `system|code`. */
  codes: Set<string>;
  /** The same codes as codings, in the order of the file (for messages and $gaps). */
  codings: { system: string; code: string }[];
  messages: Record<string, Localized>;
}

export interface RulesFile<T extends string = string> {
  kind: RulesKind;
  id: string;
  url: string;
  version: string;
  title: Localized;
  /** Where the rules come from (the call for projects), for people. */
  source: { title: string; url?: string; file?: string };
  default: boolean;
  /** consortium files: the care-team rules that apply to the patients of consortia under this call. */
  careTeamRules?: string;
  /** care-team files: how the CareTeam.status decides enforcement. */
  enforce?: Record<string, 'rules' | 'advice'>;
  rules: CompiledRule<T>[];
  /** The file it was read from. */
  file: string;
}

export type ConsortiumRules = RulesFile<ConsortiumRuleType>;
export type CareTeamRules = RulesFile<CareTeamRuleType>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class RulesFileError extends Error {}

function localized(value: unknown, where: string, placeholders?: readonly string[]): Localized {
  if (!isObj(value)) throw new RulesFileError(`${where}: must be an object with nl, fr and en texts`);
  for (const lang of LANGUAGES) {
    const text = value[lang];
    if (typeof text !== 'string' || !text.trim()) throw new RulesFileError(`${where}.${lang}: a text is required`);
    if (placeholders) {
      for (const [, name] of text.matchAll(/\{(\w+)\}/g)) {
        if (!placeholders.includes(name)) throw new RulesFileError(`${where}.${lang}: unknown placeholder {${name}} (this rule type knows ${placeholders.map((p) => `{${p}}`).join(', ') || 'none'})`);
      }
    }
  }
  return { en: value.en as string, nl: value.nl as string, fr: value.fr as string };
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string' || !value.trim()) throw new RulesFileError(`${where}: a non-empty string is required`);
  return value;
}

/** Reads and checks one rules file. Throws an error naming the file and the place of any mistake. */
export function compileRulesFile(json: unknown, file: string): RulesFile {
  try {
    if (!isObj(json)) throw new RulesFileError('the file must hold a JSON object');
    const kind = json.kind;
    if (kind !== 'consortium' && kind !== 'care-team') throw new RulesFileError(`kind must be "consortium" or "care-team", not ${JSON.stringify(kind)}`);
    const types = RULE_TYPES[kind] as Record<string, { codes: boolean; messages: readonly string[]; placeholders: readonly string[] }>;
    const systems = isObj(json.systems) ? json.systems : {};
    const codeOf = (text: unknown, where: string): { system: string; code: string } => {
      const s = string(text, where);
      const hash = s.lastIndexOf('#');
      if (hash <= 0 || hash === s.length - 1) throw new RulesFileError(`${where}: write a code as alias#code or system#code, not ${JSON.stringify(s)}`);
      const alias = s.slice(0, hash);
      const system = typeof systems[alias] === 'string' ? (systems[alias] as string) : alias;
      if (!/^(https?|urn):/.test(system)) throw new RulesFileError(`${where}: ${alias} is neither a system URL nor an alias in "systems"`);
      return { system, code: s.slice(hash + 1) };
    };
    if (!Array.isArray(json.rules) || !json.rules.length) throw new RulesFileError('rules must be a non-empty array');
    const ids = new Set<string>();
    const rules = json.rules.map((raw, i): CompiledRule => {
      const where = `rules[${i}]`;
      if (!isObj(raw)) throw new RulesFileError(`${where}: must be an object`);
      const id = string(raw.id, `${where}.id`);
      if (ids.has(id)) throw new RulesFileError(`${where}: the id ${id} is used twice`);
      ids.add(id);
      const type = string(raw.type, `${where}.type`);
      const spec = types[type];
      if (!spec) throw new RulesFileError(`${where} (${id}): unknown type ${type}; ${kind} rules know ${Object.keys(types).join(', ')}`);
      const severity = raw.severity;
      if (severity !== 'error' && severity !== 'warning' && severity !== 'information') {
        throw new RulesFileError(`${where} (${id}): severity must be error, warning or information`);
      }
      const min = raw.min === undefined ? 1 : raw.min;
      if (typeof min !== 'number' || !Number.isSafeInteger(min) || min < 0) throw new RulesFileError(`${where} (${id}): min must be a whole number`);
      const match = raw.match === undefined ? 'code' : raw.match;
      if (match !== 'code' && match !== 'specialty') throw new RulesFileError(`${where} (${id}): match must be code or specialty`);
      let codings: { system: string; code: string }[] = [];
      if (spec.codes) {
        if (!Array.isArray(raw.codes) || !raw.codes.length) throw new RulesFileError(`${where} (${id}): codes must list the accepted codes`);
        codings = raw.codes.map((c, j) => codeOf(c, `${where}.codes[${j}]`));
      } else if (raw.codes !== undefined) throw new RulesFileError(`${where} (${id}): rules of type ${type} take no codes`);
      if (!isObj(raw.messages)) throw new RulesFileError(`${where} (${id}): messages are required (${spec.messages.join(', ')})`);
      const messages: Record<string, Localized> = {};
      for (const key of spec.messages) messages[key] = localized(raw.messages[key], `${where}.messages.${key}`, spec.placeholders);
      for (const key of Object.keys(raw.messages)) if (!spec.messages.includes(key)) throw new RulesFileError(`${where}.messages: ${type} rules have no message ${key}`);
      return {
        id,
        type,
        severity,
        title: localized(raw.title, `${where}.title`),
        source: typeof raw.source === 'string' ? raw.source : undefined,
        min,
        match,
        codes: new Set(codings.map((c) => `${c.system}|${c.code}`)),
        codings,
        messages,
      };
    });
    if (!isObj(json.source)) throw new RulesFileError('source must name the text the rules come from (title, url, file)');
    let enforce: Record<string, 'rules' | 'advice'> | undefined;
    if (kind === 'care-team') {
      if (!isObj(json.enforce)) throw new RulesFileError('enforce must map CareTeam statuses to "rules" or "advice"');
      enforce = {};
      for (const [status, how] of Object.entries(json.enforce)) {
        if (how !== 'rules' && how !== 'advice') throw new RulesFileError(`enforce.${status}: must be "rules" or "advice"`);
        enforce[status] = how;
      }
    }
    return {
      kind,
      id: string(json.id, 'id'),
      url: string(json.url, 'url'),
      version: string(json.version, 'version'),
      title: localized(json.title, 'title'),
      source: { title: string(json.source.title, 'source.title'), url: json.source.url as string | undefined, file: json.source.file as string | undefined },
      default: json.default === true,
      careTeamRules: typeof json.careTeamRules === 'string' ? json.careTeamRules : undefined,
      enforce,
      rules,
      file,
    };
  } catch (err) {
    if (err instanceof RulesFileError) throw new Error(`${file}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * All rules files of a folder, and which applies: a consortium names its call (extension
 * icr-consortium-call, the rules file's url, optionally |version); one without gets the file marked
 * "default": true. Care-team rules are those its call's file names (careTeamRules), else the default.
 */
export class RuleBook {
  private readonly consortium = new Map<string, ConsortiumRules[]>();
  private readonly careTeam = new Map<string, CareTeamRules[]>();
  readonly defaultConsortium: ConsortiumRules;
  readonly defaultCareTeam: CareTeamRules;

  constructor(files: RulesFile[]) {
    for (const f of files) {
      const map = (f.kind === 'consortium' ? this.consortium : this.careTeam) as Map<string, RulesFile[]>;
      const list = map.get(f.url) ?? [];
      if (list.some((x) => x.version === f.version)) throw new Error(`${f.file}: ${f.url}|${f.version} is defined twice`);
      list.push(f);
      list.sort((a, b) => compareVersions(b.version, a.version));
      map.set(f.url, list);
    }
    const pickDefault = <T extends RulesFile>(map: Map<string, T[]>, kind: string): T => {
      const all = [...map.values()].flat();
      if (!all.length) throw new Error(`no ${kind} rules file found`);
      const defaults = all.filter((f) => f.default);
      if (defaults.length > 1) throw new Error(`several ${kind} rules files are marked default: ${defaults.map((f) => f.file).join(', ')}`);
      if (!defaults.length && all.length > 1) throw new Error(`mark one ${kind} rules file "default": true (${all.map((f) => f.file).join(', ')})`);
      return defaults[0] ?? all[0];
    };
    this.defaultConsortium = pickDefault(this.consortium, 'consortium');
    this.defaultCareTeam = pickDefault(this.careTeam, 'care-team');
    for (const f of files) {
      if (f.kind === 'consortium' && f.careTeamRules && !this.lookup(this.careTeam, f.careTeamRules)) {
        throw new Error(`${f.file}: careTeamRules ${f.careTeamRules} is not a care-team rules file here`);
      }
    }
  }

  static load(dir: string): RuleBook {
    const files: RulesFile[] = [];
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const path = join(dir, name);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch (err) {
        throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
      }
      files.push(compileRulesFile(json, path));
    }
    return new RuleBook(files);
  }

  private lookup<T extends RulesFile>(map: Map<string, T[]>, canonical: string): T | undefined {
    const [url, version] = canonical.split('|');
    const list = map.get(url);
    return version ? list?.find((f) => f.version === version) : list?.[0];
  }

  /** The consortium rules of a call (canonical url, optionally |version); undefined when unknown. */
  consortiumRules(call: string | undefined): ConsortiumRules | undefined {
    return call ? this.lookup(this.consortium, call) : this.defaultConsortium;
  }

  /** The care-team rules for patients of a consortium under these consortium rules (or none). */
  careTeamRules(consortium: ConsortiumRules | undefined): CareTeamRules {
    const named = consortium?.careTeamRules ?? this.defaultConsortium.careTeamRules;
    return (named && this.lookup(this.careTeam, named)) || this.defaultCareTeam;
  }

  /** Canonical URLs (url|version) of every consortium call known. */
  calls(): string[] {
    return [...this.consortium.values()].flat().map((f) => `${f.url}|${f.version}`);
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x) || 0);
  const pb = b.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

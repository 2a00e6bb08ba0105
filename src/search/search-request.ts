import { badRequest } from '../fhir/errors.js';
import { isResourceType } from '../fhir/resource-types.js';
import { COLUMN_PARAMS, MODIFIERS, type SearchParamDef, type SearchParameterRegistry } from './parameters.js';
import type { SqlContext, SqlParams } from './search-sql.js';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';
const PREFIXES: Prefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

export interface Criterion {
  kind: 'param';
  param: SearchParamDef;
  /** A modifier such as exact, missing, not; for references, a target type. */
  modifier?: string;
  /** OR-ed values, unescaped. */
  values: string[];
  /** Chained search on the referenced resource (`subject:Patient.identifier=...`), per possible target type. */
  chain?: { targetType: string; criterion: Criterion }[];
}

/** `_has:Type:param:child=value`: resources that a Type refers to through param, matching child. */
export interface HasCriterion {
  kind: 'has';
  sourceType: string;
  referenceParam: SearchParamDef;
  criterion: Criterion | HasCriterion;
}

/** Membership of a compartment: any of the parameters refers to the compartment's owner. */
export interface CompartmentCriterion {
  kind: 'compartment';
  params: SearchParamDef[];
  targetType: string;
  targetId: string;
}

/** Criteria added by the access policy: the resource must be one of these ids. */
export interface IdSetCriterion {
  kind: 'id-set';
  ids: string[];
}

/**
 * A condition written by the access policy itself, in SQL built with the same bind-parameter
 * collector, so that it runs inside the search query (one round trip, no id lists in Node).
 */
export interface CustomCriterion {
  kind: 'custom';
  sql(params: SqlParams, type: string, idExpr: string, ctx?: SqlContext): string;
}

export type AnyCriterion = Criterion | HasCriterion | CompartmentCriterion | IdSetCriterion | CustomCriterion;

export interface SortKey {
  param: SearchParamDef;
  descending: boolean;
}

export interface IncludeRule {
  sourceType: string;
  /** undefined for `*` */
  param?: SearchParamDef;
  targetType?: string;
  iterate: boolean;
  reverse: boolean;
}

export type Summary = 'true' | 'text' | 'data' | 'count' | 'false';
export type TotalMode = 'none' | 'estimate' | 'accurate';

export interface SearchRequest {
  resourceType: string;
  criteria: AnyCriterion[];
  sort: SortKey[];
  count: number;
  cursor?: string;
  total?: TotalMode;
  summary?: Summary;
  elements?: string[];
  include: IncludeRule[];
  /** Parameters that were ignored, with why (reported back in the Bundle). */
  ignored: { name: string; reason: string }[];
  /** The parameters that define the result (for self and next links). */
  params: [string, string][];
}

export interface ParseOptions {
  defaultCount: number;
  maxCount: number;
  /** Prefer: handling=strict: unknown parameters are errors rather than ignored. */
  strict: boolean;
}

/** Parameters that shape the result rather than select it. */
const RESULT_PARAMS = new Set(['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_cursor', '_format', '_pretty']);

/** Splits a parameter value on unescaped commas and removes the escapes (R4 3.1.1.4.6). */
export function splitValues(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\' && i + 1 < raw.length && ',$|\\'.includes(raw[i + 1])) {
      // Keep the escape for `|` so that token values can still tell system from code.
      cur += raw[i + 1] === '|' ? '\\|' : raw[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Splits `system|code` on the first unescaped bar. */
export function splitBar(value: string): [string, string] | undefined {
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\' && value[i + 1] === '|') {
      i++;
      continue;
    }
    if (value[i] === '|') return [unescapeBar(value.slice(0, i)), unescapeBar(value.slice(i + 1))];
  }
  return undefined;
}

export const unescapeBar = (s: string) => s.replace(/\\\|/g, '|');

export function parsePrefix(value: string): { prefix: Prefix; rest: string } {
  const p = value.slice(0, 2) as Prefix;
  if (PREFIXES.includes(p) && /^[a-z]{2}[-+\d]/.test(value)) return { prefix: p, rest: value.slice(2) };
  return { prefix: 'eq', rest: value };
}

export class SearchRequestParser {
  constructor(private readonly registry: SearchParameterRegistry) {}

  registryParam(type: string, code: string): SearchParamDef | undefined {
    return this.registry.get(type, code);
  }

  parse(resourceType: string, params: [string, string][], options: ParseOptions): SearchRequest {
    const req: SearchRequest = {
      resourceType,
      criteria: [],
      sort: [],
      count: options.defaultCount,
      include: [],
      ignored: [],
      params: [],
    };
    const ignore = (name: string, reason: string) => {
      if (options.strict) throw badRequest(`${reason} (Prefer: handling=strict)`, name);
      req.ignored.push({ name, reason });
    };
    for (const [name, value] of params) {
      if (name === '_cursor') {
        req.cursor = value;
        continue;
      }
      if (name === '_format' || name === '_pretty') continue;
      if (RESULT_PARAMS.has(name) || name === '_include:iterate' || name === '_revinclude:iterate') {
        this.resultParam(req, name, value, options);
        req.params.push([name, value]);
        continue;
      }
      if (name.startsWith('_has:')) {
        req.criteria.push(this.has(resourceType, name, value));
        req.params.push([name, value]);
        continue;
      }
      const criterion = this.criterion(resourceType, name, value, ignore);
      if (criterion) {
        req.criteria.push(criterion);
        req.params.push([name, value]);
      }
    }
    return req;
  }

  private resultParam(req: SearchRequest, name: string, value: string, options: ParseOptions): void {
    switch (name) {
      case '_count': {
        if (!/^\d+$/.test(value)) throw badRequest(`_count must be a whole number, not '${value}'`, '_count');
        req.count = Math.min(Number(value), options.maxCount);
        break;
      }
      case '_sort':
        for (const key of value.split(',').filter(Boolean)) {
          const descending = key.startsWith('-');
          const code = descending ? key.slice(1) : key;
          const param = this.registry.get(req.resourceType, code);
          if (!param) throw badRequest(`Cannot sort by '${code}': it is not a search parameter of ${req.resourceType}`, '_sort');
          req.sort.push({ param, descending });
        }
        break;
      case '_include':
      case '_revinclude':
      case '_include:iterate':
      case '_revinclude:iterate':
        for (const v of value.split(',').filter(Boolean)) req.include.push(this.include(req.resourceType, name, v));
        break;
      case '_summary':
        if (!['true', 'text', 'data', 'count', 'false'].includes(value)) {
          throw badRequest(`_summary must be one of true, text, data, count, false, not '${value}'`, '_summary');
        }
        req.summary = value as Summary;
        break;
      case '_elements':
        req.elements = value
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean)
          .map((e) => (e.startsWith(`${req.resourceType}.`) ? e.slice(req.resourceType.length + 1) : e));
        break;
      case '_total':
        if (!['none', 'estimate', 'accurate'].includes(value)) throw badRequest(`_total must be none, estimate or accurate, not '${value}'`, '_total');
        req.total = value as TotalMode;
        break;
    }
  }

  private include(resourceType: string, name: string, value: string): IncludeRule {
    const reverse = name.startsWith('_revinclude');
    const iterate = name.endsWith(':iterate');
    const [sourceType, code, targetType, ...extra] = value.split(':');
    if (value === '*') return { sourceType: resourceType, iterate, reverse };
    if (!sourceType || !code || extra.length) throw badRequest(`${name}=${value} is not of the form SourceType:parameter[:TargetType]`, name);
    if (!isResourceType(sourceType)) throw badRequest(`${name}: ${sourceType} is not a resource type this server holds`, name);
    if (code === '*') return { sourceType, targetType, iterate, reverse };
    const param = this.registry.get(sourceType, code);
    if (!param || param.type !== 'reference') throw badRequest(`${name}: '${code}' is not a reference search parameter of ${sourceType}`, name);
    if (targetType && !param.targets.includes(targetType)) throw badRequest(`${name}: ${sourceType}.${code} cannot refer to ${targetType}`, name);
    return { sourceType, param, targetType, iterate, reverse };
  }

  /** Parses `name[:modifier][.chain]=value`; undefined when the parameter is ignored. */
  criterion(resourceType: string, name: string, value: string, ignore: (name: string, reason: string) => void): Criterion | undefined {
    const dot = name.indexOf('.');
    const head = dot >= 0 ? name.slice(0, dot) : name;
    const chainRest = dot >= 0 ? name.slice(dot + 1) : undefined;
    const [code, modifier, ...more] = head.split(':');
    if (more.length) throw badRequest(`Search parameter '${name}' has more than one modifier`, name);
    const param = this.registry.get(resourceType, code);
    if (!param) {
      ignore(name, `'${code}' is not a search parameter of ${resourceType} on this server; it was ignored`);
      return undefined;
    }
    if (chainRest !== undefined) {
      if (param.type !== 'reference') throw badRequest(`'${code}' is not a reference parameter and cannot be chained`, name);
      if (chainRest.includes('.')) throw badRequest(`Only one level of chaining is supported ('${name}')`, name);
      let targetTypes = modifier ? [modifier] : param.targets.filter(isResourceType);
      if (modifier && !param.targets.includes(modifier)) throw badRequest(`${resourceType}.${code} cannot refer to ${modifier}`, name);
      const [childCode] = chainRest.split(':');
      targetTypes = targetTypes.filter((t) => isResourceType(t) && this.registry.get(t, childCode));
      if (!targetTypes.length) throw badRequest(`'${childCode}' is not a search parameter of any type that ${resourceType}.${code} refers to`, name);
      const chain = targetTypes.map((targetType) => ({ targetType, criterion: this.criterion(targetType, chainRest, value, ignore)! }));
      return { kind: 'param', param, values: [], chain };
    }
    if (modifier !== undefined) this.checkModifier(param, modifier, name);
    const values = splitValues(value);
    if (modifier === 'missing' && !(values.length === 1 && ['true', 'false'].includes(values[0]))) {
      throw badRequest(`${name} must be true or false, not '${value}'`, name);
    }
    return { kind: 'param', param, modifier, values };
  }

  private checkModifier(param: SearchParamDef, modifier: string, name: string): void {
    if (MODIFIERS[param.type].includes(modifier)) return;
    if (param.type === 'reference' && param.targets.includes(modifier)) return;
    if (COLUMN_PARAMS.has(param.code) && modifier !== 'missing' && modifier !== 'not') {
      throw badRequest(`The modifier ':${modifier}' cannot be used with ${param.code}`, name);
    }
    const allowed = [...MODIFIERS[param.type], ...(param.type === 'reference' ? ['[type]'] : [])].map((m) => `:${m}`).join(', ');
    throw badRequest(`The modifier ':${modifier}' is not supported for the ${param.type} parameter '${param.code}' (supported: ${allowed})`, name);
  }

  private has(resourceType: string, name: string, value: string): HasCriterion {
    // _has:SourceType:referenceParam:rest where rest is a parameter of SourceType or another _has
    const parts = name.split(':');
    if (parts.length < 4) throw badRequest(`${name} is not of the form _has:Type:reference:parameter`, name);
    const [, sourceType, refCode, ...rest] = parts;
    if (!isResourceType(sourceType)) throw badRequest(`${name}: ${sourceType} is not a resource type this server holds`, name);
    const referenceParam = this.registry.get(sourceType, refCode);
    if (!referenceParam || referenceParam.type !== 'reference') throw badRequest(`${name}: '${refCode}' is not a reference parameter of ${sourceType}`, name);
    if (!referenceParam.targets.includes(resourceType)) throw badRequest(`${name}: ${sourceType}.${refCode} cannot refer to ${resourceType}`, name);
    const childName = rest.join(':');
    const criterion = childName.startsWith('_has:')
      ? this.has(sourceType, childName, value)
      : this.criterion(sourceType, childName, value, (n, reason) => {
          throw badRequest(reason, n);
        })!;
    return { kind: 'has', sourceType, referenceParam, criterion };
  }
}

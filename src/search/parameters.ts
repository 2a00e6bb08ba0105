import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { SearchParameter } from 'fhir/r4.js';
import { baseSearchParameters } from '../fhir/definitions.js';
import { RESOURCE_TYPES } from '../fhir/resource-types.js';
import { compileSimplePath } from './simple-path.js';

export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'quantity' | 'uri';

export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  resourceType: string;
  url: string;
  description: string;
  /** The FHIRPath expression, reduced to this resource type. */
  expression: string;
  /** Target types of a reference parameter. */
  targets: string[];
  /** From `.where(resolve() is X)`: only references to these types are indexed. */
  targetFilter?: string[];
  /** Values of the parameter in a resource. */
  extract(resource: unknown): unknown[];
  /** Whether extract walks a plain path natively rather than through the FHIRPath engine. */
  native: boolean;
}

/** Modifiers we implement, per parameter type. */
export const MODIFIERS: Record<SearchParamType, readonly string[]> = {
  string: ['missing', 'exact', 'contains'],
  token: ['missing', 'not', 'text'],
  reference: ['missing', 'identifier'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['missing', 'above', 'below'],
};

const SUPPORTED_TYPES = new Set<string>(Object.keys(MODIFIERS));

/**
 * Parameters whose value is not indexed from the resource but read from resource columns.
 * They still appear in the registry so that the CapabilityStatement lists them.
 */
export const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

/** Splits on `|` outside parentheses and quotes. */
function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'" && expression[i - 1] !== '\\') quote = !quote;
    else if (!quote && c === '(') depth++;
    else if (!quote && c === ')') depth--;
    else if (!quote && depth === 0 && c === '|') {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expression.slice(start).trim());
  return parts.filter(Boolean);
}

function unwrap(part: string): string {
  let p = part.trim();
  while (p.startsWith('(') && p.endsWith(')') && splitUnion(p.slice(1, -1)).length === 1 && balanced(p.slice(1, -1))) p = p.slice(1, -1).trim();
  return p;
}

function balanced(s: string): boolean {
  let depth = 0;
  for (const c of s) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

const RESOLVE_IS = /\.where\(resolve\(\) is (\w+)\)/g;

/**
 * The parts of a shared expression that apply to one resource type: the R4 bundle defines, for
 * example, one `patient` parameter for 32 resource types with one long union.
 */
export function reduceExpression(expression: string, resourceType: string): { expression: string; targetFilter?: string[] } | undefined {
  const filters = new Set<string>();
  const parts: string[] = [];
  for (const raw of splitUnion(expression)) {
    let part = unwrap(raw).replace(/^Resource\./, `${resourceType}.`).replace(/^DomainResource\./, `${resourceType}.`);
    const head = part.match(/^(\w+)/)?.[1];
    if (head !== resourceType) continue;
    part = part.replace(RESOLVE_IS, (_m, t: string) => {
      filters.add(t);
      return '';
    });
    parts.push(raw.trim().startsWith('(') ? `(${part})` : part);
  }
  if (!parts.length) return undefined;
  return { expression: parts.join(' | '), targetFilter: filters.size ? [...filters] : undefined };
}

export class SearchParameterRegistry {
  private readonly byType = new Map<string, Map<string, SearchParamDef>>();

  constructor(parameters: SearchParameter[], types: readonly string[] = RESOURCE_TYPES) {
    const typeSet = new Set(types);
    for (const sp of parameters) {
      if (!SUPPORTED_TYPES.has(sp.type) || !sp.expression) continue;
      for (const base of sp.base) {
        const applies = base === 'Resource' || base === 'DomainResource' ? types : typeSet.has(base) ? [base] : [];
        for (const type of applies) this.add(sp, type);
      }
    }
  }

  private add(sp: SearchParameter, resourceType: string): void {
    const reduced = reduceExpression(sp.expression!, resourceType);
    if (!reduced) return;
    const native = compileSimplePath(reduced.expression);
    const compiled = native ?? (fhirpath.compile(reduced.expression, r4model) as (r: unknown) => unknown[]);
    const def: SearchParamDef = {
      code: sp.code,
      type: sp.type as SearchParamType,
      resourceType,
      url: sp.url,
      description: sp.description ?? '',
      expression: reduced.expression,
      targets: sp.target ?? [],
      targetFilter: reduced.targetFilter,
      extract: (resource) => compiled(resource as Record<string, unknown>) as unknown[],
      native: native !== undefined,
    };
    let map = this.byType.get(resourceType);
    if (!map) this.byType.set(resourceType, (map = new Map()));
    map.set(sp.code, def);
  }

  get(resourceType: string, code: string): SearchParamDef | undefined {
    return this.byType.get(resourceType)?.get(code);
  }

  all(resourceType: string): SearchParamDef[] {
    return [...(this.byType.get(resourceType)?.values() ?? [])];
  }

  /** Parameters whose values live in index tables (all but the column-backed ones). */
  indexed(resourceType: string): SearchParamDef[] {
    return this.all(resourceType).filter((p) => !COLUMN_PARAMS.has(p.code));
  }
}

let standard: SearchParameterRegistry | undefined;

/** The registry of the R4 parameters of our types, plus any custom ones given. Built once. */
export function searchParameters(extra: SearchParameter[] = []): SearchParameterRegistry {
  if (extra.length) return new SearchParameterRegistry([...baseSearchParameters(), ...extra]);
  standard ??= new SearchParameterRegistry(baseSearchParameters());
  return standard;
}

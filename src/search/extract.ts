import { doubleMetaphone } from 'double-metaphone';
import { parseAbsoluteReference, parseRelativeReference } from '../fhir/references.js';
import { MAX_DATE, MIN_DATE, parseDateRange, sqlTimestamp } from './date-range.js';
import { normalizeString } from './normalize.js';
import type { SearchParamDef, SearchParameterRegistry } from './parameters.js';

/** Index rows of one resource, per index table, as positional tuples (sent to SQL as JSON). */
export interface IndexRows {
  string: [param: string, value: string, exact: string][];
  token: [param: string, system: string | null, code: string | null, text: string | null][];
  reference: [param: string, targetType: string | null, targetId: string | null, url: string | null, idSystem: string | null, idValue: string | null][];
  date: [param: string, lo: string, hi: string][];
  number: [param: string, value: number, lo: number | string, hi: number | string][];
  quantity: [param: string, value: number, lo: number | string, hi: number | string, system: string | null, code: string | null, unit: string | null][];
  uri: [param: string, value: string][];
}

export type IndexTable = keyof IndexRows;
export const INDEX_TABLES: IndexTable[] = ['string', 'token', 'reference', 'date', 'number', 'quantity', 'uri'];

/** The longest normalized string kept in the (b-tree indexed) value column. */
const MAX_INDEXED_STRING = 512;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function stringValues(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (isObj(value)) {
    // HumanName, Address and the like: every textual part is searchable.
    for (const key of ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country']) {
      const v = value[key];
      if (typeof v === 'string') out.push(v);
      else if (Array.isArray(v)) for (const s of v) if (typeof s === 'string') out.push(s);
    }
  }
}

function addString(rows: IndexRows, def: SearchParamDef, values: unknown[]): void {
  const texts: string[] = [];
  for (const v of values) stringValues(v, texts);
  if (def.code === 'phonetic') {
    for (const t of texts)
      for (const word of normalizeString(t).split(/[\s-]+/))
        for (const code of new Set(doubleMetaphone(word))) if (code) rows.string.push([def.code, code, word]);
    return;
  }
  for (const t of texts) {
    const n = normalizeString(t);
    if (n) rows.string.push([def.code, n.slice(0, MAX_INDEXED_STRING), t]);
  }
}

function addToken(rows: IndexRows, def: SearchParamDef, values: unknown[]): void {
  const p = def.code;
  for (const v of values) {
    if (typeof v === 'string') rows.token.push([p, null, v, null]);
    else if (typeof v === 'boolean') rows.token.push([p, null, String(v), null]);
    else if (typeof v === 'number') rows.token.push([p, null, String(v), null]);
    else if (isObj(v)) {
      if (Array.isArray(v.coding) || 'text' in v) {
        // CodeableConcept
        const text = str(v.text);
        for (const c of (v.coding as unknown[]) ?? []) {
          if (isObj(c)) rows.token.push([p, str(c.system), str(c.code), norm(str(c.display) ?? text)]);
        }
        if (text) rows.token.push([p, null, null, norm(text)]);
      } else if ('value' in v && !('unit' in v)) {
        // Identifier or ContactPoint
        const typeText = isObj(v.type) ? str(v.type.text) : null;
        rows.token.push([p, str(v.system), str(v.value), norm(typeText)]);
      } else if ('code' in v || 'system' in v) {
        rows.token.push([p, str(v.system), str(v.code), norm(str(v.display))]);
      }
    }
  }
}

const norm = (s: string | null): string | null => (s ? normalizeString(s) : null);

function referenceTypeAllowed(def: SearchParamDef, type: string | undefined): boolean {
  return !def.targetFilter || (type !== undefined && def.targetFilter.includes(type));
}

function addReference(rows: IndexRows, def: SearchParamDef, values: unknown[]): void {
  const p = def.code;
  for (const v of values) {
    if (typeof v === 'string') {
      // canonical or uri reference
      rows.reference.push([p, null, null, v.split('|')[0], null, null]);
      continue;
    }
    if (!isObj(v)) continue;
    const ref = str(v.reference);
    if (ref && !ref.startsWith('#')) {
      const rel = parseRelativeReference(ref);
      if (rel) {
        if (referenceTypeAllowed(def, rel.type)) rows.reference.push([p, rel.type, rel.id, null, null, null]);
      } else {
        const abs = parseAbsoluteReference(ref);
        if (referenceTypeAllowed(def, abs?.type)) rows.reference.push([p, null, null, ref, null, null]);
      }
    }
    if (isObj(v.identifier) && referenceTypeAllowed(def, str(v.type) ?? undefined)) {
      const id = v.identifier;
      if (str(id.value)) rows.reference.push([p, null, null, null, str(id.system), str(id.value)]);
    }
  }
}

function dateRanges(v: unknown, out: [string, string][]): void {
  if (typeof v === 'string') {
    const r = parseDateRange(v);
    if (r) out.push([sqlTimestamp(r.lo), sqlTimestamp(r.hi)]);
  } else if (isObj(v)) {
    if ('start' in v || 'end' in v) {
      const lo = typeof v.start === 'string' ? parseDateRange(v.start)?.lo : MIN_DATE;
      const hi = typeof v.end === 'string' ? parseDateRange(v.end)?.hi : MAX_DATE;
      if (lo && hi) out.push([sqlTimestamp(lo), sqlTimestamp(hi)]);
    } else if (Array.isArray(v.event) || isObj(v.repeat)) {
      // Timing: its events, and the bounds of its repeat.
      for (const e of (v.event as unknown[]) ?? []) dateRanges(e, out);
      if (isObj(v.repeat) && isObj(v.repeat.boundsPeriod)) dateRanges(v.repeat.boundsPeriod, out);
    }
  }
}

function addDate(rows: IndexRows, def: SearchParamDef, values: unknown[]): void {
  const ranges: [string, string][] = [];
  for (const v of values) dateRanges(v, ranges);
  for (const [lo, hi] of ranges) rows.date.push([def.code, lo, hi]);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function addNumberOrQuantity(rows: IndexRows, def: SearchParamDef, values: unknown[]): void {
  for (const v of values) {
    if (def.type === 'number') {
      const n = num(v);
      if (n !== undefined) rows.number.push([def.code, n, n, n]);
      continue;
    }
    if (!isObj(v)) continue;
    const value = num(v.value);
    if (value !== undefined) {
      rows.quantity.push([def.code, value, value, value, str(v.system), str(v.code), str(v.unit)]);
    } else if (isObj(v.low) || isObj(v.high)) {
      // Range: indexed as its bounds, the value column holding the low end (or the high one).
      const low = isObj(v.low) ? v.low : undefined;
      const high = isObj(v.high) ? v.high : undefined;
      const lo = num(low?.value);
      const hi = num(high?.value);
      const unitOf = low ?? high!;
      rows.quantity.push([def.code, (lo ?? hi)!, lo ?? '-Infinity', hi ?? 'Infinity', str(unitOf.system), str(unitOf.code), str(unitOf.unit)]);
    }
  }
}

function addUri(rows: IndexRows, def: SearchParamDef, values: unknown[]): void {
  for (const v of values) if (typeof v === 'string' && v) rows.uri.push([def.code, v]);
}

function emptyRows(): IndexRows {
  return { string: [], token: [], reference: [], date: [], number: [], quantity: [], uri: [] };
}

/** Every index row of a resource, from the FHIRPath expressions of its search parameters. */
export function extractIndexRows(resource: Obj, registry: SearchParameterRegistry): IndexRows {
  const rows = emptyRows();
  for (const def of registry.indexed(String(resource.resourceType))) {
    let values: unknown[];
    try {
      values = def.extract(resource);
    } catch {
      // A FHIRPath evaluation error on odd (but valid) data must not block the write: that
      // parameter simply has no value for this resource.
      continue;
    }
    if (!values.length) continue;
    switch (def.type) {
      case 'string':
        addString(rows, def, values);
        break;
      case 'token':
        addToken(rows, def, values);
        break;
      case 'reference':
        addReference(rows, def, values);
        break;
      case 'date':
        addDate(rows, def, values);
        break;
      case 'number':
      case 'quantity':
        addNumberOrQuantity(rows, def, values);
        break;
      case 'uri':
        addUri(rows, def, values);
        break;
    }
  }
  for (const table of INDEX_TABLES) rows[table] = dedupe(rows[table] as unknown[][]) as never;
  return rows;
}

function dedupe<T extends unknown[]>(rows: T[]): T[] {
  if (rows.length < 2) return rows;
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = JSON.stringify(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface Link {
  /** FHIRPath-like location of the reference, for messages. */
  path: string;
  type: string;
  id: string;
}

/** Every relative reference (`Type/id`) anywhere in the resource, contained resources included. */
export function extractLinks(resource: Obj): Link[] {
  const links: Link[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}[${i}]`));
    } else if (isObj(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (key === 'reference' && typeof v === 'string') {
          const ref = parseRelativeReference(v);
          if (ref) links.push({ path, type: ref.type, id: ref.id });
        } else if (typeof v === 'object' && v !== null) {
          walk(v, `${path}.${key}`);
        }
      }
    }
  };
  walk(resource, String(resource.resourceType));
  return links;
}

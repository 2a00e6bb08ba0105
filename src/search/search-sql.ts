import { doubleMetaphone } from 'double-metaphone';
import { badRequest } from '../fhir/errors.js';
import { parseRelativeReference } from '../fhir/references.js';
import { parseDateRange, sqlTimestamp, type DateRange } from './date-range.js';
import { escapeLike, normalizeString } from './normalize.js';
import type { SearchParamDef } from './parameters.js';
import { parsePrefix, splitBar, unescapeBar, type AnyCriterion, type Criterion, type Prefix, type SortKey } from './search-request.js';

/** Collects bind parameters: user input never becomes SQL text. */
export class SqlParams {
  readonly values: unknown[] = [];
  private alias = 0;
  p(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  nextAlias(prefix: string): string {
    return `${prefix}${++this.alias}`;
  }
}

export interface SqlContext {
  /** Absolute references that start with this base are local. */
  localBase?: string;
  /**
   * The query's other conditions already pick out a few rows (an id, a reference to one
   * resource): conditions of the access policy are then checked on those rows, one by one.
   */
  narrowed?: boolean;
  /** The query has criteria of its own (selective or not). */
  criteria?: boolean;
}

const TABLE: Record<string, string> = {
  string: 'idx_string',
  token: 'idx_token',
  reference: 'idx_reference',
  date: 'idx_date',
  number: 'idx_number',
  quantity: 'idx_quantity',
  uri: 'idx_uri',
};

/**
 * The SQL condition for one criterion on the resource identified by (type, idExpr); idExpr is a
 * column expression, so that chained and reverse-chained criteria nest the same function.
 */
export function criterionSql(sql: SqlParams, c: AnyCriterion, type: string, idExpr: string, ctx: SqlContext): string {
  switch (c.kind) {
    case 'custom':
      return `(${c.sql(sql, type, idExpr, ctx)})`;
    case 'id-set':
      return `${idExpr} = ANY(${sql.p(c.ids)}::text[])`;
    case 'compartment': {
      const a = sql.nextAlias('c');
      return `EXISTS (SELECT 1 FROM idx_reference ${a} WHERE ${a}.res_type = ${sql.p(type)} AND ${a}.res_id = ${idExpr}
        AND ${a}.param = ANY(${sql.p(c.params.map((p) => p.code))}::text[]) AND ${a}.target_type = ${sql.p(c.targetType)} AND ${a}.target_id = ${sql.p(c.targetId)})`;
    }
    case 'has': {
      const a = sql.nextAlias('h');
      const inner = criterionSql(sql, c.criterion, c.sourceType, `${a}.res_id`, ctx);
      return `EXISTS (SELECT 1 FROM idx_reference ${a} WHERE ${a}.res_type = ${sql.p(c.sourceType)} AND ${a}.param = ${sql.p(c.referenceParam.code)}
        AND ${a}.target_type = ${sql.p(type)} AND ${a}.target_id = ${idExpr} AND ${inner})`;
    }
    case 'param':
      return paramSql(sql, c, type, idExpr, ctx);
  }
}

function paramSql(sql: SqlParams, c: Criterion, type: string, idExpr: string, ctx: SqlContext): string {
  const { param, modifier } = c;
  if (c.chain) {
    const a = sql.nextAlias('ch');
    const alternatives = c.chain.map(
      ({ targetType, criterion }) => `(${a}.target_type = ${sql.p(targetType)} AND ${criterionSql(sql, criterion, targetType, `${a}.target_id`, ctx)})`,
    );
    return `EXISTS (SELECT 1 FROM idx_reference ${a} WHERE ${a}.res_type = ${sql.p(type)} AND ${a}.res_id = ${idExpr} AND ${a}.param = ${sql.p(param.code)}
      AND (${alternatives.join(' OR ')}))`;
  }
  if (param.code === '_id') return idSql(sql, c, idExpr);
  if (param.code === '_lastUpdated') return lastUpdatedSql(sql, c, type, idExpr);

  const table = TABLE[param.type];
  const a = sql.nextAlias('i');
  const base = `FROM ${table} ${a} WHERE ${a}.res_type = ${sql.p(type)} AND ${a}.res_id = ${idExpr} AND ${a}.param = ${sql.p(param.code)}`;
  if (modifier === 'missing') return `${c.values[0] === 'true' ? 'NOT ' : ''}EXISTS (SELECT 1 ${base})`;
  const conditions = c.values.map((v) => valueSql(sql, param, modifier, v, a, ctx));
  const any = conditions.length === 1 ? conditions[0] : `(${conditions.join(' OR ')})`;
  if (modifier === 'not') return `NOT EXISTS (SELECT 1 ${base} AND ${any})`;
  return `EXISTS (SELECT 1 ${base} AND ${any})`;
}

function idSql(sql: SqlParams, c: Criterion, idExpr: string): string {
  if (c.modifier === 'missing') return c.values[0] === 'true' ? 'false' : 'true';
  const cond = `${idExpr} = ANY(${sql.p(c.values)}::text[])`;
  return c.modifier === 'not' ? `NOT (${cond})` : cond;
}

function lastUpdatedSql(sql: SqlParams, c: Criterion, type: string, idExpr: string): string {
  if (c.modifier === 'missing') return c.values[0] === 'true' ? 'false' : 'true';
  const column = idExpr === 'r.id' ? 'r.last_updated' : 'lu.last_updated';
  // A lastUpdated instant is a point: the range of one millisecond.
  const lo = column;
  const hi = `(${column} + interval '1 millisecond')`;
  const conditions = c.values.map((v) => dateCondition(sql, v, lo, hi, '_lastUpdated'));
  const any = `(${conditions.join(' OR ')})`;
  if (idExpr === 'r.id') return any;
  return `EXISTS (SELECT 1 FROM resource lu WHERE lu.res_type = ${sql.p(type)} AND lu.id = ${idExpr} AND ${any})`;
}

function valueSql(sql: SqlParams, param: SearchParamDef, modifier: string | undefined, value: string, a: string, ctx: SqlContext): string {
  switch (param.type) {
    case 'string':
      return stringSql(sql, param, modifier, value, a);
    case 'token':
      return tokenSql(sql, modifier, value, a, param.code);
    case 'reference':
      return referenceSql(sql, param, modifier, value, a, ctx);
    case 'date':
      return dateCondition(sql, value, `${a}.lo`, `${a}.hi`, param.code);
    case 'number':
      return numberCondition(sql, value, a, param.code);
    case 'quantity':
      return quantitySql(sql, value, a, param.code);
    case 'uri':
      return uriSql(sql, modifier, value, a);
  }
}

function stringSql(sql: SqlParams, param: SearchParamDef, modifier: string | undefined, value: string, a: string): string {
  if (param.code === 'phonetic') {
    const codes = [...new Set(normalizeString(value).split(/[\s-]+/).flatMap((w) => doubleMetaphone(w)))].filter(Boolean);
    return `${a}.value = ANY(${sql.p(codes)}::text[])`;
  }
  if (modifier === 'exact') return `${a}.exact = ${sql.p(value)}`;
  const n = escapeLike(normalizeString(value));
  if (modifier === 'contains') return `${a}.value LIKE ${sql.p(`%${n}%`)}`;
  return `${a}.value LIKE ${sql.p(`${n}%`)}`;
}

function tokenSql(sql: SqlParams, modifier: string | undefined, value: string, a: string, code: string): string {
  if (modifier === 'text') return `${a}.text LIKE ${sql.p(`${escapeLike(normalizeString(unescapeBar(value)))}%`)}`;
  const parts = splitBar(value);
  if (!parts) return `${a}.code = ${sql.p(unescapeBar(value))}`;
  const [system, tokenCode] = parts;
  if (system === '' && tokenCode === '') throw badRequest(`'${value}' is not a valid token: give a code, system|code, |code or system|`, code);
  if (system === '') return `(${a}.system IS NULL AND ${a}.code = ${sql.p(tokenCode)})`;
  if (tokenCode === '') return `${a}.system = ${sql.p(system)}`;
  return `(${a}.system = ${sql.p(system)} AND ${a}.code = ${sql.p(tokenCode)})`;
}

function referenceSql(sql: SqlParams, param: SearchParamDef, modifier: string | undefined, value: string, a: string, ctx: SqlContext): string {
  if (modifier === 'identifier') {
    const parts = splitBar(value);
    if (!parts) return `${a}.id_value = ${sql.p(unescapeBar(value))}`;
    const [system, v] = parts;
    if (system === '') return `(${a}.id_system IS NULL AND ${a}.id_value = ${sql.p(v)})`;
    if (v === '') return `${a}.id_system = ${sql.p(system)}`;
    return `(${a}.id_system = ${sql.p(system)} AND ${a}.id_value = ${sql.p(v)})`;
  }
  let ref = unescapeBar(value);
  if (ctx.localBase && ref.startsWith(`${ctx.localBase}/`)) ref = ref.slice(ctx.localBase.length + 1);
  const rel = parseRelativeReference(ref);
  if (rel) {
    if (modifier && modifier !== rel.type) throw badRequest(`'${value}' does not refer to a ${modifier}`, `${param.code}:${modifier}`);
    return `(${a}.target_type = ${sql.p(rel.type)} AND ${a}.target_id = ${sql.p(rel.id)})`;
  }
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(ref)) {
    // A bare id: any of the target types (or the one named by the modifier).
    const types = modifier ? [modifier] : param.targets;
    return `(${a}.target_id = ${sql.p(ref)} AND ${a}.target_type = ANY(${sql.p(types)}::text[]))`;
  }
  return `${a}.url = ${sql.p(ref.split('|')[0])}`;
}

function parseDateValue(value: string, code: string): { prefix: Prefix; range: DateRange } {
  const { prefix, rest } = parsePrefix(value);
  const range = parseDateRange(rest);
  if (!range) {
    throw badRequest(
      `'${value}' is not a valid date for ${code}: expected an optional prefix (eq, ne, gt, lt, ge, le, sa, eb, ap) and a date such as 2024, 2024-03, 2024-03-15 or 2024-03-15T10:30:00+01:00`,
      code,
    );
  }
  return { prefix, range };
}

/** Date comparison of a stored range [lo, hi) with the search range, as R4 3.1.1.5.8 defines it. */
function dateCondition(sql: SqlParams, value: string, lo: string, hi: string, code: string): string {
  const { prefix, range } = parseDateValue(value, code);
  // Bind parameters are made only when used: PostgreSQL refuses parameters it cannot type.
  const sLo = () => `${sql.p(sqlTimestamp(range.lo))}::timestamptz`;
  const sHi = () => `${sql.p(sqlTimestamp(range.hi))}::timestamptz`;
  const eq = () => `(${lo} >= ${sLo()} AND ${hi} <= ${sHi()})`;
  switch (prefix) {
    case 'eq':
      return eq();
    case 'ne':
      return `NOT ${eq()}`;
    case 'gt':
      return `${hi} > ${sHi()}`;
    case 'lt':
      return `${lo} < ${sLo()}`;
    case 'ge':
      return `(${hi} > ${sHi()} OR ${eq()})`;
    case 'le':
      return `(${lo} < ${sLo()} OR ${eq()})`;
    case 'sa':
      return `${lo} >= ${sHi()}`;
    case 'eb':
      return `${hi} <= ${sLo()}`;
    case 'ap': {
      // Approximately: within 10% of the distance between the value and now, on either side.
      const now = Date.now();
      const margin = Math.abs(now - range.lo.getTime()) * 0.1;
      const wLo = sql.p(sqlTimestamp(new Date(range.lo.getTime() - margin)));
      const wHi = sql.p(sqlTimestamp(new Date(range.hi.getTime() + margin)));
      return `(${lo} < ${wHi}::timestamptz AND ${hi} > ${wLo}::timestamptz)`;
    }
  }
}

const NUMBER_RE = /^[-+]?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?$/;

/** The implicit range of a decimal search value: 100 means [99.5, 100.5), 100.0 means [99.95, 100.05). */
function numberRange(text: string): { value: number; lo: number; hi: number } {
  const m = /^[-+]?\d*(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text)!;
  const decimals = (m[1]?.length ?? 0) - Number(m[2] ?? 0);
  const half = 0.5 * 10 ** -decimals;
  const value = Number(text);
  return { value, lo: value - half, hi: value + half };
}

function parseNumberValue(value: string, code: string): { prefix: Prefix; text: string } {
  const { prefix, rest } = parsePrefix(value);
  if (!NUMBER_RE.test(rest)) throw badRequest(`'${value}' is not a valid number for ${code}: expected an optional prefix and a decimal such as 5.4 or ge100`, code);
  return { prefix, text: rest };
}

function numericCondition(sql: SqlParams, prefix: Prefix, text: string, a: string): string {
  const { value, lo, hi } = numberRange(text);
  const v = () => `${sql.p(value)}::numeric`;
  const eq = () => `(${a}.lo >= ${sql.p(lo)}::numeric AND ${a}.hi < ${sql.p(hi)}::numeric)`;
  switch (prefix) {
    case 'eq':
      return eq();
    case 'ne':
      return `NOT ${eq()}`;
    case 'gt':
    case 'sa':
      return `${a}.hi > ${v()}`;
    case 'lt':
    case 'eb':
      return `${a}.lo < ${v()}`;
    case 'ge':
      return `${a}.hi >= ${v()}`;
    case 'le':
      return `${a}.lo <= ${v()}`;
    case 'ap': {
      const margin = Math.abs(value) * 0.1;
      return `(${a}.lo <= ${sql.p(value + margin)}::numeric AND ${a}.hi >= ${sql.p(value - margin)}::numeric)`;
    }
  }
}

function numberCondition(sql: SqlParams, value: string, a: string, code: string): string {
  const { prefix, text } = parseNumberValue(value, code);
  return numericCondition(sql, prefix, text, a);
}

function quantitySql(sql: SqlParams, value: string, a: string, code: string): string {
  const [num, system, unit] = value.split('|');
  const { prefix, text } = parseNumberValue(num, code);
  const parts = [numericCondition(sql, prefix, text, a)];
  if (system) parts.push(`${a}.system = ${sql.p(system)}`);
  if (unit) parts.push(system ? `${a}.code = ${sql.p(unit)}` : `(${a}.code = ${sql.p(unit)} OR ${a}.unit = ${sql.p(unit)})`);
  return `(${parts.join(' AND ')})`;
}

function uriSql(sql: SqlParams, modifier: string | undefined, value: string, a: string): string {
  if (modifier === 'below') return `${a}.value LIKE ${sql.p(`${escapeLike(value)}%`)}`;
  if (modifier === 'above') return `${sql.p(value)} LIKE replace(replace(replace(${a}.value, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'`;
  return `${a}.value = ${sql.p(value)}`;
}

export type SortColumnType = 'text' | 'timestamptz' | 'numeric';

/** The sort value of a resource for one key, as a correlated subquery (or a column). */
export function sortExpression(sql: SqlParams, key: SortKey, type: string): { expr: string; columnType: SortColumnType } {
  const { param, descending } = key;
  const agg = descending ? 'max' : 'min';
  if (param.code === '_id') return { expr: 'r.id', columnType: 'text' };
  if (param.code === '_lastUpdated') return { expr: 'r.last_updated', columnType: 'timestamptz' };
  const where = (t: string) => `FROM ${t} s WHERE s.res_type = ${sql.p(type)} AND s.res_id = r.id AND s.param = ${sql.p(param.code)}`;
  switch (param.type) {
    case 'string':
      return { expr: `(SELECT ${agg}(s.value) ${where('idx_string')})`, columnType: 'text' };
    case 'token':
      return { expr: `(SELECT ${agg}(s.code) ${where('idx_token')})`, columnType: 'text' };
    case 'uri':
      return { expr: `(SELECT ${agg}(s.value) ${where('idx_uri')})`, columnType: 'text' };
    case 'reference':
      return { expr: `(SELECT ${agg}(coalesce(s.target_type || '/' || s.target_id, s.url, s.id_value)) ${where('idx_reference')})`, columnType: 'text' };
    case 'date':
      return { expr: `(SELECT ${descending ? 'max(s.hi)' : 'min(s.lo)'} ${where('idx_date')})`, columnType: 'timestamptz' };
    case 'number':
      return { expr: `(SELECT ${agg}(s.value) ${where('idx_number')})`, columnType: 'numeric' };
    case 'quantity':
      return { expr: `(SELECT ${agg}(s.value) ${where('idx_quantity')})`, columnType: 'numeric' };
  }
}

/**
 * The keyset condition "comes after the row whose sort values are `values`" for ORDER BY the
 * keys (NULLS LAST) and then seq. Paging this way stays correct while others write: no row is
 * skipped or shown twice because rows were added or removed before it.
 */
export function keysetCondition(sql: SqlParams, keys: { column: string; columnType: SortColumnType; descending: boolean }[], values: unknown[], seq: number): string {
  let condition = `q.seq > ${sql.p(seq)}`;
  for (let i = keys.length - 1; i >= 0; i--) {
    const { column, columnType, descending } = keys[i];
    const v = values[i];
    if (v === null || v === undefined) {
      condition = `(${column} IS NULL AND ${condition})`;
    } else {
      const p = `${sql.p(v)}::${columnType}`;
      condition = `(${column} ${descending ? '<' : '>'} ${p} OR ${column} IS NULL OR (${column} = ${p} AND ${condition}))`;
    }
  }
  return condition;
}

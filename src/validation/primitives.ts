import type { StructureDefinition } from 'fhir/r4.js';
import { localize } from '../i18n/language.js';
import { report, type Ctx } from './context.js';
import { describeValue, JSON_TYPE_NAMES, jsonTypeOf, PRIMITIVE_EXPECTATIONS } from './messages.js';
import { validateXhtml } from './xhtml.js';

export type PrimitiveFailure = 'json' | 'empty' | 'format' | 'calendar' | 'range' | 'length' | 'xhtml';

export interface PrimitiveCheck {
  readonly type: string;
  readonly json: 'string' | 'number' | 'boolean';
  /** undefined when the value is valid: the common case costs one typeof and one regex test. */
  check(value: unknown): PrimitiveFailure | undefined;
}

const REGEX_EXT = 'http://hl7.org/fhir/StructureDefinition/regex';
const JAVA_WS = [' ', '\t', '\n', '\u000b', '\f', '\r'];
const JAVA_WS_CLASS = '[ \\t\\n\\x0B\\f\\r]';
const JAVA_NON_WS_CLASS = '[^ \\t\\n\\x0B\\f\\r]';
const JAVA_WS_RUN = new RegExp(JAVA_WS_CLASS + '+', 'g');

function classCharValue(token: string): string | undefined {
  const map: Record<string, string> = { '\\t': '\t', '\\n': '\n', '\\r': '\r', '\\f': '\f', ' ': ' ' };
  return map[token];
}

/**
 * The spec's regexes are Java regexes, where \s is ASCII whitespace only. JavaScript's \s also
 * matches no-break spaces and other Unicode spaces, so a French name with a no-break space would be
 * refused here and accepted by the HL7 validator. Rewrite \s and \S to the Java sets.
 */
export function javaRegexToJs(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '\\') {
      const next = source[i + 1];
      if (next === 's') out += JAVA_WS_CLASS;
      else if (next === 'S') out += JAVA_NON_WS_CLASS;
      else out += ch + next;
      i += 2;
      continue;
    }
    if (ch === '[') {
      // Read the whole character class.
      let j = i + 1;
      const negated = source[j] === '^';
      if (negated) j++;
      const tokens: string[] = [];
      while (j < source.length && source[j] !== ']') {
        if (source[j] === '\\') {
          tokens.push(source.slice(j, j + 2));
          j += 2;
        } else {
          tokens.push(source[j]);
          j++;
        }
      }
      i = j + 1;
      if (tokens.includes('\\S')) {
        if (negated) throw new Error(`unsupported regex class in ${source}`);
        // [...\S] = every non-whitespace character plus the whitespace listed: i.e. all but the unlisted whitespace.
        const listed = new Set(tokens.map(classCharValue).filter((c): c is string => c !== undefined));
        const excluded = JAVA_WS.filter((c) => !listed.has(c));
        out += excluded.length ? '[^' + excluded.map((c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('') + ']' : '[\\s\\S]';
        continue;
      }
      const body = tokens.map((t) => (t === '\\s' ? ' \\t\\n\\x0B\\f\\r' : t)).join('');
      out += '[' + (negated ? '^' : '') + body + ']';
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The regexes accept 2023-02-30; the HL7 validator does not. */
function isCalendarDate(value: string): boolean {
  if (value.length < 10) return true;
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const max = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  return day <= max;
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

function jsonTypeFor(type: string): 'string' | 'number' | 'boolean' {
  if (type === 'boolean') return 'boolean';
  if (type === 'integer' || type === 'decimal' || type === 'positiveInt' || type === 'unsignedInt') return 'number';
  return 'string';
}

export function compilePrimitive(type: string, regexSource: string | undefined, maxLength: number | undefined): PrimitiveCheck {
  const json = jsonTypeFor(type);
  const regex = regexSource ? new RegExp('^(?:' + javaRegexToJs(regexSource) + ')$') : undefined;
  const max = maxLength ?? Infinity;
  if (json === 'boolean') {
    return { type, json, check: (v) => (typeof v === 'boolean' ? undefined : 'json') };
  }
  if (json === 'number') {
    const min = type === 'positiveInt' ? 1 : type === 'unsignedInt' ? 0 : INT_MIN;
    if (type === 'decimal') return { type, json, check: (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'json') };
    return {
      type,
      json,
      check: (v) => {
        if (typeof v !== 'number') return 'json';
        if (!Number.isInteger(v)) return 'format';
        return v < min || v > INT_MAX ? 'range' : undefined;
      },
    };
  }
  if (type === 'xhtml') {
    return { type, json, check: (v) => (typeof v !== 'string' ? 'json' : v.length === 0 ? 'empty' : undefined) };
  }
  if (type === 'base64Binary') {
    // The spec regex backtracks on megabytes of data; this is the same language, linear.
    return {
      type,
      json,
      check: (v) => {
        if (typeof v !== 'string') return 'json';
        if (v.length === 0) return 'empty';
        const compact = v.replace(JAVA_WS_RUN, '');
        return compact.length % 4 === 0 && /^[0-9a-zA-Z+/=]*$/.test(compact) ? undefined : 'format';
      },
    };
  }
  const calendar = type === 'date' || type === 'dateTime' || type === 'instant';
  return {
    type,
    json,
    check: (v) => {
      if (typeof v !== 'string') return 'json';
      if (v.length === 0) return 'empty';
      if (v.length > max) return 'length';
      if (regex !== undefined && !regex.test(v)) return 'format';
      if (calendar && !isCalendarDate(v)) return 'calendar';
      return undefined;
    },
  };
}

/** One check per primitive type, with the regex taken from the type's StructureDefinition. */
export function compilePrimitives(typeDefinitions: StructureDefinition[]): Map<string, PrimitiveCheck> {
  const checks = new Map<string, PrimitiveCheck>();
  for (const sd of typeDefinitions) {
    if (sd.kind !== 'primitive-type' || sd.derivation === 'constraint') continue;
    const valueEl = sd.snapshot?.element.find((e) => e.path === `${sd.type}.value`);
    const regex = valueEl?.type?.[0]?.extension?.find((e) => e.url === REGEX_EXT)?.valueString;
    checks.set(sd.type, compilePrimitive(sd.type, regex, valueEl?.maxLength));
  }
  // FHIRPath system types used by Element.id, Extension.url and Resource.id in R4 snapshots.
  checks.set('System.string', compilePrimitive('string', undefined, undefined));
  checks.set('System.uri', checks.get('uri') ?? compilePrimitive('uri', '\\S*', undefined));
  checks.set('System.id', checks.get('id') ?? compilePrimitive('id', '[A-Za-z0-9\\-\\.]{1,64}', undefined));
  return checks;
}

const RANGE_TEXT: Record<string, string> = {
  integer: '-2147483648 .. 2147483647',
  positiveInt: '1 .. 2147483647',
  unsignedInt: '0 .. 2147483647',
};

export function reportPrimitive(ctx: Ctx, path: string, check: PrimitiveCheck, value: unknown, failure: PrimitiveFailure): void {
  const lang = ctx.lang;
  const type = check.type;
  switch (failure) {
    case 'json':
      report(ctx, 'error', 'structure', path, 'wrongJsonType', {
        type,
        json: localize(JSON_TYPE_NAMES[check.json], lang),
        found: describeValue(value) + (value !== null && typeof value === 'object' ? '' : ` (${localize(JSON_TYPE_NAMES[jsonTypeOf(value)], lang)})`),
      });
      return;
    case 'empty':
      report(ctx, 'error', 'value', path, 'emptyString', { type });
      return;
    case 'range':
      report(ctx, 'error', 'value', path, 'outOfRange', { type, value, expected: RANGE_TEXT[type] ?? '' });
      return;
    case 'length':
      report(ctx, 'error', 'value', path, 'tooLong', { length: (value as string).length, max: 1048576 });
      return;
    case 'calendar':
      report(ctx, 'error', 'value', path, 'badCalendarDate', { value });
      return;
    default: {
      const expected = PRIMITIVE_EXPECTATIONS[type];
      report(ctx, 'error', 'value', path, 'badFormat', {
        value: typeof value === 'string' && value.length > 60 ? value.slice(0, 57) + '...' : value,
        type,
        expected: expected ? localize(expected, lang) : type,
      });
    }
  }
}

/** Narrative div: the format check proper (txt-1, txt-2) lives in xhtml.ts. */
export function checkXhtml(ctx: Ctx, path: string, value: string): void {
  const problem = validateXhtml(value, ctx.lang);
  if (problem) report(ctx, 'error', 'invariant', path, 'narrative', { problem });
}

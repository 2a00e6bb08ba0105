import { notAcceptable, unsupportedMediaType } from '../fhir/errors.js';

const JSON_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir', 'text/json']);
const FORMAT_ALIASES: Record<string, string> = {
  json: 'application/fhir+json',
  'application/json': 'application/json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
};

/**
 * Media types besides FHIR JSON that some operations answer in ($indicators and $evaluate-measure:
 * text/csv; bulk export files: NDJSON). Other requests in them are refused (406) after dispatch.
 */
export const ALTERNATIVE_TYPES = new Set(['text/csv', 'application/fhir+ndjson', 'application/ndjson']);
const FORMAT_ALTERNATIVES: Record<string, string> = { csv: 'text/csv', 'text/csv': 'text/csv', ndjson: 'application/fhir+ndjson', 'application/fhir+ndjson': 'application/fhir+ndjson' };

export interface Negotiated {
  /** The FHIR JSON media type to answer in, or undefined when the client accepts no JSON. */
  json?: string;
  /** Every acceptable media type, most wanted first (FHIR JSON as application/fhir+json or application/json). */
  accept: string[];
}

/**
 * What the client accepts: FHIR JSON (application/fhir+json unless it asked for plain
 * application/json), and the alternatives some operations offer. Asking only for anything else
 * (XML, Turtle) is a 406 at once.
 */
export function negotiate(accept: string | undefined, format: string | undefined): Negotiated {
  if (format !== undefined) {
    const key = format.split(';')[0].trim();
    const f = FORMAT_ALIASES[key];
    if (f) return { json: f, accept: [f] };
    const alt = FORMAT_ALTERNATIVES[key];
    if (alt) return { accept: [alt] };
    throw notAcceptable(`_format=${format} is not supported: this server speaks FHIR JSON only (_format=json; _format=csv for the indicators)`);
  }
  if (!accept) return { json: 'application/fhir+json', accept: ['application/fhir+json'] };
  const ranges = accept
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim().toLowerCase(), q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  if (!ranges.length) return { json: 'application/fhir+json', accept: ['application/fhir+json'] };
  const out: string[] = [];
  let json: string | undefined;
  for (const r of ranges) {
    let type: string | undefined;
    if (r.type === 'application/json') type = 'application/json';
    else if (JSON_TYPES.has(r.type) || r.type === '*/*' || r.type === 'application/*') type = 'application/fhir+json';
    else if (ALTERNATIVE_TYPES.has(r.type)) type = r.type;
    if (!type || out.includes(type)) continue;
    out.push(type);
    if (!ALTERNATIVE_TYPES.has(type)) json ??= type;
  }
  if (!out.length) throw notAcceptable(`Cannot answer in ${accept}: this server speaks FHIR JSON only (Accept: application/fhir+json)`);
  return { json, accept: out };
}

/** The FHIR JSON media type of the response (406 when the client accepts none). */
export function responseMediaType(accept: string | undefined, format: string | undefined): string {
  const n = negotiate(accept, format);
  if (!n.json) throw notAcceptable(`Cannot answer in ${accept ?? format}: this server speaks FHIR JSON only (Accept: application/fhir+json)`);
  return n.json;
}

export type BodyKind = 'json' | 'patch' | 'form' | 'none';

/** What a request body is, from its Content-Type; 415 for anything we do not take. */
export function bodyKind(contentType: string | undefined, hasBody: boolean): BodyKind {
  if (!hasBody) return 'none';
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (JSON_TYPES.has(type)) return 'json';
  if (type === 'application/json-patch+json') return 'patch';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (!type) throw unsupportedMediaType('The request has a body but no Content-Type: send application/fhir+json');
  if (type.includes('xml')) throw unsupportedMediaType(`${type} is not supported: this server accepts FHIR JSON only (application/fhir+json)`);
  throw unsupportedMediaType(`Content-Type ${type} is not supported: send application/fhir+json (or application/json-patch+json for PATCH)`);
}

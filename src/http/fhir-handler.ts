import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { negotiateLanguage } from '../i18n/language.js';
import { parseJsonBody } from '../fhir/json-body.js';
import { badRequest, FhirError, hasErrors, notAcceptable } from '../fhir/errors.js';
import { parsePrefer, SYSTEM_PRINCIPAL, type Principal, type RequestContext } from '../interactions/context.js';
import type { InteractionRequest, Method } from '../interactions/dispatch.js';
import type { FhirService } from '../interactions/fhir-service.js';
import { RawJson, RawText, type FhirResponse } from '../interactions/response.js';
import { bodyKind, negotiate } from './negotiation.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

export interface HandlerOptions {
  baseUrl?: string;
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function requestContext(req: Request, res: Response, options: HandlerOptions): RequestContext {
  return {
    baseUrl: options.baseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`,
    lang: negotiateLanguage(header(req, 'accept-language')),
    prefer: parsePrefer(header(req, 'prefer')),
    requestId: String(res.getHeader('X-Request-Id') ?? randomUUID()),
    principal: (res.locals.principal as Principal | undefined) ?? SYSTEM_PRINCIPAL,
    sourceAddress: req.ip,
    pretty: req.query._pretty === 'true',
  };
}

function queryPairs(url: string): [string, string][] {
  const q = url.indexOf('?');
  return q >= 0 ? ([...new URLSearchParams(url.slice(q + 1))] as [string, string][]) : [];
}

function interactionRequest(req: Request): InteractionRequest {
  const method = req.method.toUpperCase();
  if (!METHODS.has(method)) throw new FhirError(405, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported', diagnostics: `Method ${method} is not supported` }] });
  const rawBody = Buffer.isBuffer(req.body) ? (req.body as Buffer) : undefined;
  const kind = bodyKind(header(req, 'content-type'), Boolean(rawBody?.length));
  const q = req.originalUrl.indexOf('?');
  const rawQuery = q >= 0 ? req.originalUrl.slice(q + 1) : '';
  const query = queryPairs(req.originalUrl);
  let body: unknown;
  if (kind === 'json' || kind === 'patch') {
    body = parseJsonBody(rawBody!.toString('utf8'));
    if (method === 'PATCH' && kind === 'json') {
      throw new FhirError(415, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'not-supported', diagnostics: 'PATCH takes a JSON Patch document: send it as application/json-patch+json (FHIRPath Patch is not supported)' }],
      });
    }
    if (kind === 'patch' && method !== 'PATCH') throw badRequest('A JSON Patch document can only be sent with PATCH');
  } else if (kind === 'form') {
    if (method !== 'POST') throw badRequest('Form-encoded bodies are only accepted by POST (for _search)');
    query.push(...([...new URLSearchParams(rawBody!.toString('utf8'))] as [string, string][]));
  }
  return {
    method: method as Method,
    path: req.path.replace(/^\/+|\/+$/g, ''),
    query,
    rawQuery,
    body,
    ifMatch: header(req, 'if-match'),
    ifNoneMatch: header(req, 'if-none-match'),
    ifNoneExist: header(req, 'if-none-exist'),
    ifModifiedSince: header(req, 'if-modified-since'),
  };
}

/** Headers must be ASCII: non-ASCII letters of nl/fr messages are written as \uXXXX. */
function asciiHeader(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function sendFhir(res: Response, ctx: RequestContext, r: FhirResponse, mediaType: string): void {
  if (res.headersSent) return;
  res.status(r.status);
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  // Validation warnings of a write whose body is the resource: HAPI reports them in this header.
  const warnings = r.issues?.filter((i) => !hasErrors([i]) && i.severity !== 'information') ?? [];
  const bodyIsOutcome = r.body && !(r.body instanceof RawJson) && (r.body as { resourceType?: string }).resourceType === 'OperationOutcome';
  if (warnings.length && !bodyIsOutcome) {
    res.setHeader(
      'X-FHIR-Request-Validation',
      asciiHeader(warnings.slice(0, 20).map((i) => `${i.severity} ${i.expression?.[0] ?? ''}: ${i.diagnostics ?? i.details?.text ?? ''}`).join(' | ')),
    );
  }
  if (r.body === undefined) {
    res.end();
    return;
  }
  if (r.body instanceof RawText) {
    res.setHeader('Content-Type', `${r.body.mediaType}; charset=utf-8`);
    res.send(r.body.text);
    return;
  }
  let text = r.body instanceof RawJson ? r.body.text : JSON.stringify(r.body);
  if (ctx.pretty) text = JSON.stringify(JSON.parse(text), null, 2);
  res.setHeader('Content-Type', `${mediaType}; charset=utf-8`);
  res.send(text);
}

/** The whole FHIR REST API as one Express handler, mounted at /fhir. */
export function fhirHandler(service: FhirService, options: HandlerOptions) {
  return async (req: Request, res: Response): Promise<void> => {
    const negotiated = negotiate(header(req, 'accept'), typeof req.query._format === 'string' ? req.query._format : undefined);
    // Errors are OperationOutcomes in FHIR JSON, whatever else the client asked for.
    const mediaType = negotiated.json ?? 'application/fhir+json';
    res.locals.mediaType = mediaType;
    const ctx = requestContext(req, res, options);
    if (negotiated.accept[0] !== 'application/fhir+json') ctx.accept = negotiated.accept;
    res.locals.fhirContext = ctx;
    const notJson = () =>
      notAcceptable(`Cannot answer this request in ${negotiated.accept.join(', ')}: only $indicators and $evaluate-measure answer in text/csv, and bulk export files in NDJSON; ask for application/fhir+json`);
    // Only operations read with GET may answer in another media type: refuse anything else before it runs.
    if (!negotiated.json && ((req.method !== 'GET' && req.method !== 'HEAD') || !req.path.includes('$'))) throw notJson();
    const response = await service.dispatch(ctx, interactionRequest(req));
    if (!negotiated.json && response.body !== undefined && !(response.body instanceof RawText)) throw notJson();
    sendFhir(res, ctx, response, mediaType);
  };
}

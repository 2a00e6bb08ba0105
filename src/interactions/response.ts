import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import { issue, operationOutcome } from '../fhir/errors.js';
import type { StoredResource } from '../store/resource-store.js';
import type { RequestContext } from './context.js';

/** JSON text that goes to the client as it is (stored resources are never parsed to be re-sent). */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * A body in another media type than FHIR JSON, for the operations that offer one (CSV tables,
 * NDJSON files, the bulk-export manifest): sent as it is, with its own Content-Type.
 */
export class RawText {
  constructor(
    readonly text: string,
    readonly mediaType: string,
  ) {}
}

export interface FhirResponse {
  status: number;
  body?: object | RawJson | RawText;
  headers: Record<string, string>;
  /** Issues to report besides the body (validation warnings on a write). */
  issues?: OperationOutcomeIssue[];
  /** An update that changed nothing (no new version was made). */
  unchanged?: boolean;
  /** The resources read or written, for the audit trail. */
  accessed?: { type: string; id: string }[];
}

export const etag = (version: number) => `W/"${version}"`;

export function versionHeaders(ctx: RequestContext, r: StoredResource, withLocation: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    ETag: etag(r.version),
    'Last-Modified': r.lastUpdated.toUTCString(),
  };
  if (withLocation) headers.Location = `${ctx.baseUrl}/${r.type}/${r.id}/_history/${r.version}`;
  return headers;
}

/**
 * The answer to a write, shaped by Prefer: return=minimal (no body), representation (the
 * resource, the default) or OperationOutcome.
 */
export function writeResponse(ctx: RequestContext, status: number, r: StoredResource, message: string, issues: OperationOutcomeIssue[] = []): FhirResponse {
  const headers = versionHeaders(ctx, r, status === 201 || status === 200);
  const accessed = [{ type: r.type, id: r.id }];
  switch (ctx.prefer.return) {
    case 'minimal':
      return { status, headers, issues, accessed };
    case 'OperationOutcome':
      return { status, headers, body: outcomeWith(message, issues), issues, accessed };
    default:
      return { status, headers, body: r.json ? new RawJson(r.json) : undefined, issues, accessed };
  }
}

export function outcomeWith(message: string, issues: OperationOutcomeIssue[]): OperationOutcome {
  return operationOutcome([issue('information', 'informational', message), ...issues]);
}

export function outcomeResponse(status: number, message: string, issues: OperationOutcomeIssue[] = []): FhirResponse {
  return { status, headers: {}, body: outcomeWith(message, issues) };
}

import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';

export type IssueSeverity = OperationOutcomeIssue['severity'];
export type IssueCode = OperationOutcomeIssue['code'];

/**
 * The one error type of the server. It carries the HTTP status and the OperationOutcome that
 * the client receives; it is thrown anywhere and turned into a response in one place.
 */
export class FhirError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;
  readonly headers: Record<string, string>;

  constructor(status: number, outcome: OperationOutcome, headers: Record<string, string> = {}) {
    super(outcome.issue.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; '));
    this.name = 'FhirError';
    this.status = status;
    this.outcome = outcome;
    this.headers = headers;
  }
}

export function issue(
  severity: IssueSeverity,
  code: IssueCode,
  text: string,
  expression?: string | string[],
): OperationOutcomeIssue {
  const result: OperationOutcomeIssue = { severity, code, details: { text }, diagnostics: text };
  if (expression !== undefined) result.expression = Array.isArray(expression) ? expression : [expression];
  return result;
}

export function operationOutcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues.length ? issues : [issue('information', 'informational', 'All OK')] };
}

export function hasErrors(issues: readonly OperationOutcomeIssue[]): boolean {
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

function single(status: number, code: IssueCode, text: string, expression?: string | string[]): FhirError {
  return new FhirError(status, operationOutcome([issue('error', code, text, expression)]));
}

export const badRequest = (text: string, expression?: string | string[]) => single(400, 'invalid', text, expression);
export const notSupported = (text: string, expression?: string | string[]) => single(400, 'not-supported', text, expression);
export const unauthorized = (text: string) => single(401, 'login', text);
export const forbidden = (text: string) => single(403, 'forbidden', text);
export const notFound = (text: string) => single(404, 'not-found', text);
export const methodNotAllowed = (text: string) => single(405, 'not-supported', text);
export const notAcceptable = (text: string) => single(406, 'not-supported', text);
export const conflict = (text: string, expression?: string | string[]) => single(409, 'conflict', text, expression);
export const gone = (text: string) => single(410, 'deleted', text);
export const preconditionFailed = (text: string) => single(412, 'conflict', text);
export const payloadTooLarge = (text: string) => single(413, 'too-costly', text);
export const unsupportedMediaType = (text: string) => single(415, 'not-supported', text);
export const unprocessable = (issues: OperationOutcomeIssue[]) => new FhirError(422, operationOutcome(issues));
export const tooManyRequests = (text: string, retryAfterSeconds: number) =>
  new FhirError(429, operationOutcome([issue('error', 'throttled', text)]), { 'Retry-After': String(retryAfterSeconds) });

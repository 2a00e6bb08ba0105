import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logging.js';
import { FhirError, issue, operationOutcome, payloadTooLarge } from '../fhir/errors.js';
import { withoutSearchValues } from './access-log.js';

/** body-parser's errors, in FHIR terms. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number; code?: string; expose?: boolean; message?: string }): FhirError | undefined {
  if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR') {
    return new FhirError(400, operationOutcome([issue('error', 'invalid', 'The body is not valid for its Content-Encoding (gzip or deflate data expected)')]));
  }
  switch (err.type) {
    case 'entity.too.large':
      return payloadTooLarge(`The request body is larger than the limit of ${Math.round((err.limit ?? 0) / 1024)} KiB`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new FhirError(415, operationOutcome([issue('error', 'not-supported', 'The body encoding or charset is not supported: send UTF-8, optionally gzip-compressed')]));
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new FhirError(400, operationOutcome([issue('error', 'invalid', 'The request body was incomplete')]));
  }
  // Other client errors that the body parser marks as safe to show.
  if (err.expose && err.status && err.status >= 400 && err.status < 500) {
    return new FhirError(err.status, operationOutcome([issue('error', 'invalid', err.message ?? 'Bad request')]));
  }
  return undefined;
}

/**
 * The one place where errors become responses: a FhirError carries its status and outcome;
 * anything else is a bug, logged with the request id and answered 500 without internals.
 */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let error = err instanceof FhirError ? err : fromBodyParser(err as never);
    if (!error) {
      const requestId = String(res.getHeader('X-Request-Id') ?? '');
      logger.error({ err, requestId, method: req.method, url: withoutSearchValues(req.originalUrl) }, 'unhandled error');
      error = new FhirError(500, operationOutcome([issue('fatal', 'exception', `Internal server error; quote request id ${requestId} when reporting it`)]));
    }
    if (res.headersSent) return;
    res.status(error.status);
    for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
    const mediaType = (res.locals.mediaType as string | undefined) ?? 'application/fhir+json';
    res.setHeader('Content-Type', `${mediaType}; charset=utf-8`);
    res.send(JSON.stringify(error.outcome));
  };
}

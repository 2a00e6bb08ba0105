import cors from 'cors';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { tooManyRequests } from '../fhir/errors.js';
import type { Principal } from '../interactions/context.js';

/** Security headers for a JSON API: nothing may be framed, sniffed or loaded from it as a page. */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
  });
}

/** CORS for the browser origins in the allowlist only; none by default. */
export function corsAllowlist(origins: string[]): RequestHandler {
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && origins.includes(origin)),
    allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Accept-Language', 'If-Match', 'If-None-Match', 'If-None-Exist', 'If-Modified-Since', 'Prefer', 'X-Request-Id'],
    exposedHeaders: ['Location', 'ETag', 'Last-Modified', 'Content-Location', 'X-Request-Id', 'X-Progress', 'X-FHIR-Request-Validation', 'Retry-After'],
    maxAge: 600,
  });
}

/**
 * Requests per minute per client: the token's client (or subject), else the address. Over the
 * limit: 429 with Retry-After and an OperationOutcome. Counted per replica.
 */
export function perClientRateLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req, res) => {
      const principal = res.locals.principal as Principal | undefined;
      return principal ? `client:${principal.clientId ?? principal.subject}` : `ip:${ipKeyGenerator(req.ip ?? '0.0.0.0')}`;
    },
    handler: (req, _res, next) => {
      const reset = (req as unknown as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      next(tooManyRequests(`Too many requests: at most ${perMinute} a minute per client; try again in ${seconds} s`, seconds));
    },
  });
}

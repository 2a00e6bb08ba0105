import type { RequestHandler } from 'express';
import { authenticationError, type TokenVerifier } from './token-verifier.js';

/** Paths of the FHIR API that anyone may read: what the server supports and how to authenticate. */
const PUBLIC = new Set(['/metadata', '/.well-known/smart-configuration']);

/** Verifies the bearer token of every FHIR request; the principal goes to res.locals. */
export function authenticate(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && PUBLIC.has(req.path)) return next();
    const header = req.headers.authorization;
    if (!header) return next(authenticationError(undefined));
    const m = /^Bearer +([A-Za-z0-9\-_=.+/]+)$/i.exec(header.trim());
    if (!m) return next(authenticationError('the Authorization header must be "Bearer <token>"'));
    verifier.verify(m[1]).then(
      (principal) => {
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

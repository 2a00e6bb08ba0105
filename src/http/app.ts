import { randomUUID } from 'node:crypto';
import compression from 'compression';
import express, { type Express } from 'express';
import type { Config } from '../config.js';
import { FhirError, issue, notFound, operationOutcome } from '../fhir/errors.js';
import type { FhirService } from '../interactions/fhir-service.js';
import type { Logger } from '../logging.js';
import { errorHandler } from './error-handler.js';
import { fhirHandler } from './fhir-handler.js';
import { accessLog } from './access-log.js';
import { corsAllowlist, perClientRateLimit, securityHeaders } from './hardening.js';
import { authenticate } from '../auth/authenticate.js';
import { smartConfiguration } from '../auth/smart-configuration.js';
import type { TokenVerifier } from '../auth/token-verifier.js';

export interface AppOptions {
  service: FhirService;
  config: Pick<Config, 'bodyLimitBytes' | 'baseUrl' | 'trustProxy' | 'requestTimeoutMs' | 'corsOrigins' | 'rateLimitPerMinute' | 'authIssuer' | 'authJwksUrl' | 'authAuthorizeUrl' | 'authTokenUrl' | 'devTokens'>;
  /** Checks the bearer token of every FHIR request: there is no way to turn it off. */
  verifier: TokenVerifier;
  logger: Logger;
  /** Whether the service can take traffic (database reachable, not shutting down). */
  isReady: () => Promise<boolean>;
  /** Mounts extra endpoints (metrics, SMART configuration) next to /fhir. */
  routes?: (app: Express) => void;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(options: AppOptions): Express {
  const { config, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const given = req.headers['x-request-id'];
    res.setHeader('X-Request-Id', typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID());
    next();
  });
  app.use(accessLog(logger));
  app.use(securityHeaders());
  app.use(compression());
  app.use((req, res, next) => {
    // A request that takes too long is answered 503; the work may still finish, its answer is dropped.
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      const error = new FhirError(503, operationOutcome([issue('error', 'timeout', `The request took longer than ${config.requestTimeoutMs} ms`)]));
      res.status(503).setHeader('Content-Type', 'application/fhir+json; charset=utf-8');
      res.send(JSON.stringify(error.outcome));
    }, config.requestTimeoutMs);
    res.on('finish', () => clearTimeout(timer));
    res.on('close', () => clearTimeout(timer));
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.isReady().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  options.routes?.(app);

  const cors = corsAllowlist(config.corsOrigins);
  const smart = smartConfiguration(config);
  for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    app.get(path, cors, (_req, res) => {
      res.json(smart);
    });
  }
  app.use('/fhir', cors, authenticate(options.verifier));
  if (config.rateLimitPerMinute > 0) app.use('/fhir', perClientRateLimit(config.rateLimitPerMinute));
  app.use('/fhir', express.raw({ type: () => true, limit: config.bodyLimitBytes }), fhirHandler(options.service, { baseUrl: config.baseUrl }));
  app.use((req, _res, next) => next(notFound(`${req.method} ${req.path} is not an endpoint of this server; the FHIR API is at /fhir`)));
  app.use(errorHandler(logger));
  return app;
}

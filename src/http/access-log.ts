import type { RequestHandler } from 'express';
import type { Logger } from '../logging.js';

/**
 * One structured line per request (info for successes, warn for 4xx, error for 5xx), with the
 * request id. Cheaper than a child logger per request: nothing is built unless the line is written.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (req.path === '/healthz' || req.path === '/readyz') return next();
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level]({
        requestId: res.getHeader('X-Request-Id'),
        method: req.method,
        url: withoutSearchValues(req.originalUrl),
        status,
        ms: Number((process.hrtime.bigint() - start) / 1000n) / 1000,
        remoteAddress: req.ip,
      }, 'request');
    });
    next();
  };
}

/**
 * The URL without the values of its search parameters: a query such as
 * `Patient?identifier=...|48041201777` must not put an SSIN in the logs. Result parameters
 * (`_count`, `_sort`, ...) keep their values, they say nothing about anyone.
 */
export function withoutSearchValues(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const kept = [...params].map(([k, v]) => `${k}=${k.startsWith('_') && !k.startsWith('_has') && k !== '_id' ? v : '*'}`);
  return `${url.slice(0, q)}?${kept.join('&')}`;
}

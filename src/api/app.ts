import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../infrastructure/logger';
import { toProblem } from './errors';
import { allowedMethods, type RouteInfo, type RouteTable } from './routes';
import { problem, sendProblem } from './problem';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

export const BODY_LIMIT = '16kb';

export type AppOptions = {
  logger: Logger;
  trustProxy: boolean | number | string;
  tables: RouteTable[];
  /** Mounted before the tables, e.g. the docs page that needs its own content security policy. */
  before?: RequestHandler[];
  onRequestDone?: (info: { method: string; route: string; status: number; seconds: number }) => void;
};

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Security headers on every response (OWASP Secure Headers). The docs page relaxes CSP for itself. */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  next();
};

export const createApp = (options: AppOptions): Express => {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', options.trustProxy);
  app.set('json spaces', 0);

  app.use((req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.log = options.logger.child({ request_id: req.id });
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The matched route pattern, never the raw URL: paths and queries can carry tokens.
      const route = (req.route as { path?: string } | undefined)?.path
        ? `${req.baseUrl}${(req.route as { path: string }).path}`
        : 'unmatched';
      options.onRequestDone?.({ method: req.method, route, status: res.statusCode, seconds });
      req.log.info(
        { method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) },
        'request',
      );
    });
    next();
  });
  app.use(securityHeaders);
  for (const handler of options.before ?? []) app.use(handler);

  const routes: RouteInfo[] = options.tables.flatMap((t) => t.routes);
  for (const table of options.tables) app.use(table.router);

  app.use((req, res) => {
    const allowed = allowedMethods(routes, req.path);
    if (allowed.length > 0) {
      res.setHeader('Allow', allowed.join(', '));
      sendProblem(
        res,
        problem('method-not-allowed', `${req.method} is not allowed here`),
        req.originalUrl.split('?')[0],
      );
      return;
    }
    sendProblem(res, problem('not-found', 'No such resource'), req.originalUrl.split('?')[0]);
  });

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const p = toProblem(err);
    if (p.status >= 500) {
      req.log.error(
        {
          err: { name: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack },
        },
        'request failed',
      );
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, p, req.originalUrl.split('?')[0]);
  };
  app.use(onError);
  return app;
};

import cors from 'cors';
import type { RequestHandler } from 'express';

/**
 * Browser apps on other origins (CONTRACT.md "Pages a person opens"): CORS_ALLOWED_ORIGINS lists exact
 * origins; a listed one gets CORS answers and preflights on `/v1/*` and `/oauth2/*`, any other origin gets
 * no `Access-Control-Allow-*` at all (its preflight falls through to the routes: 404/405), so the browser
 * keeps the answer from the page. The API authenticates with bearer tokens, never cookies, so no
 * credentials mode is offered; with none, nothing could be read across origins by riding a cookie either.
 * Preflights are cached for CORS_MAX_AGE_SECONDS (Chromium caps it at 2 hours).
 */
export type CorsSettings = { allowedOrigins: readonly string[]; maxAgeSeconds: number };

const PREFIXES = ['/v1/', '/oauth2/'];

export const corsFor = (settings: CorsSettings): RequestHandler => {
  const allowed = new Set(settings.allowedOrigins);
  const answer = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'Last-Event-ID'],
    exposedHeaders: ['Retry-After', 'WWW-Authenticate', 'X-Request-Id', 'Allow'],
    credentials: false,
    maxAge: settings.maxAgeSeconds,
    optionsSuccessStatus: 204,
  });
  return (req, res, next) => {
    if (allowed.size === 0 || !PREFIXES.some((p) => req.path.startsWith(p))) return next();
    // The answer differs by Origin (with or without the CORS members): a shared cache must key on it.
    res.vary('Origin');
    answer(req, res, next);
  };
};

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../application/ports';
import { toProblem } from './errors';
import { allowedMethods, type RouteInfo, type RouteTable } from './routes/table';
import { HttpProblem, problem, problemBody, sendProblem } from './problem';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

export const BODY_LIMIT = '16kb';
/** BODY_LIMIT in bytes, for the check of a declared Content-Length (body.ts). */
export const BODY_LIMIT_BYTES = 16 * 1024;

export type AppOptions = {
  logger: Logger;
  trustProxy: boolean | number | string;
  tables: RouteTable[];
  /** Mounted before the tables, e.g. the docs page that needs its own content security policy. */
  before?: RequestHandler[];
  onRequestDone?: (info: { method: string; route: string; status: number; seconds: number }) => void;
};

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Security headers on every response (OWASP Secure Headers). The docs page relaxes CSP for itself; the
 * answers the HTTP server writes before any route runs (`createHttpServer`) carry them too.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
};

const securityHeaders: RequestHandler = (_req, res, next) => {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
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
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node would answer it itself, with no body;
  // createHttpServer leaves it to this check so the answer is a problem like every other.
  app.use((req, res, next) => {
    if (req.httpVersion !== '1.1' || req.headers.host !== undefined) return next();
    sendProblem(res, problem('validation-failed', 'An HTTP/1.1 request needs a Host header'));
  });
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
    } else if (!(err instanceof HttpProblem)) {
      // A client's mistake that a library noticed (an undecodable path): the request line says 4xx. Never
      // the library's message: it may quote the input, which may be a token.
      const e = err as { name?: unknown; code?: unknown; type?: unknown };
      req.log.debug({ err: { name: e?.name, code: e?.code, type: e?.type } }, 'request refused');
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

export type ServerTimeouts = {
  requestMs: number;
  headersMs: number;
  keepAliveMs: number;
  checkEveryMs: number;
};

/**
 * The HTTP server's timeouts, chosen rather than left to Node's defaults (headers 60 s, whole request
 * 300 s, checked only every 30 s):
 *
 * - `requestMs` (REQUEST_TIMEOUT_SECONDS, default 30 s): receiving the whole request, headers and body. A
 *   body is at most 16 KiB, so a client still sending after that long has stalled or is dripping bytes to
 *   hold connections open (slowloris); its connection is closed. Answers may take as long as they need (an
 *   event stream lasts hours): the clock stops once the request has arrived.
 * - `headersMs` (10 s, or `requestMs` when shorter; Node requires headers <= request): the header block,
 *   at most 16 KiB (Node's maxHeaderSize).
 * - `keepAliveMs` (65 s): an idle kept-alive connection outlives the idle timeout of the usual load
 *   balancers (60 s on AWS ALB and Google Cloud), so the balancer closes it first and never sends a request
 *   down a connection this server is closing (a 502 at the balancer). Since Node 18 idle keep-alive time
 *   counts against neither timeout above, so `headersMs` no longer has to exceed it (it did before:
 *   nodejs/node#27363).
 * - `checkEveryMs`: how often Node looks for expired requests; at its default of 30 s a 30 s timeout could
 *   stretch to a minute.
 */
export const serverTimeouts = (requestTimeoutSeconds: number): ServerTimeouts => {
  const requestMs = requestTimeoutSeconds * 1000;
  return {
    requestMs,
    headersMs: Math.min(10_000, requestMs),
    keepAliveMs: 65_000,
    checkEveryMs: Math.min(1000, requestMs),
  };
};

// RFC 6585 §5 gives an oversized header block its own status, which proxies and clients know. The
// contract's code table (CONTRACT.md "General rules") has no code for a request head, and a new one would
// give clients a branch they cannot act on: the request does not fit the service's limits, which is what
// `validation-failed` says, under the precise status. A head the parser cannot read at all is 400
// `malformed-body`: the table's code for a request that could not be parsed.
const HEADERS_TOO_LARGE = new HttpProblem(
  431,
  'validation-failed',
  'The request header block is larger than 16 KiB',
);
const UNPARSEABLE = problem('malformed-body', 'The request could not be parsed as HTTP/1.1');

/**
 * A whole HTTP/1.1 answer, for the moments before express has a request (the parser refused it). An answer
 * to HEAD has no body (RFC 9110 §9.3.2): a client would read one as the start of the next response.
 */
const rawAnswer = (p: HttpProblem, head: boolean): string => {
  const body = JSON.stringify(problemBody(p));
  const headers: Record<string, string> = {
    'Content-Type': 'application/problem+json',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    Connection: 'close',
    ...SECURITY_HEADERS,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${p.status} ${http.STATUS_CODES[p.status] ?? ''}\r\n${lines.join('')}\r\n${head ? '' : body}`;
};

/**
 * Node's parser refused what a client sent, or the connection failed, before or between requests. A
 * header block over the limit is a 431 problem, one the parser cannot read a 400 problem; resets and
 * timeouts (a stalled body, a slow header block) end the connection without a word: there is nobody to
 * read one, or the client stopped sending.
 */
const onClientError =
  (logger: Logger) =>
  (err: NodeJS.ErrnoException, socket: Duplex): void => {
    const code = typeof err.code === 'string' ? err.code : 'unknown';
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    logger.debug({ code, in_flight: Boolean(inFlight) }, 'client connection error');
    if (!code.startsWith('HPE_')) return void socket.destroy();
    if (inFlight) {
      // An answer to an earlier request on this connection is on its way: it goes out whole, and the
      // connection ends after it. Writing now would put bytes before or inside it (Node's default does).
      inFlight.once('close', () => socket.destroy());
      return;
    }
    // Bytes after a request that said `Connection: close` are not a request: close, as it asked.
    if (code === 'HPE_CLOSED_CONNECTION' || !socket.writable) return void socket.destroy();
    const answer = code === 'HPE_HEADER_OVERFLOW' ? HEADERS_TOO_LARGE : UNPARSEABLE;
    // The bytes the parser stopped in: where a request line fits in them, they start with its method.
    const raw = (err as { rawPacket?: unknown }).rawPacket;
    const head = Buffer.isBuffer(raw) && raw.toString('latin1', 0, 5) === 'HEAD ';
    socket.end(rawAnswer(answer, head), () => socket.destroy());
  };

/**
 * The HTTP server for an app: the timeouts above, problems for what the parser refuses, and no
 * built-in bare answers (a missing Host is the app's 400 problem; an unknown `Expect` is ignored, which
 * RFC 9110 §10.1.1 allows, instead of Node's bare 417).
 */
export const createHttpServer = (
  listener: http.RequestListener,
  options: { logger: Logger; timeouts: ServerTimeouts },
): http.Server => {
  const { timeouts } = options;
  const server = http.createServer(
    {
      requestTimeout: timeouts.requestMs,
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: timeouts.checkEveryMs,
      requireHostHeader: false,
    },
    listener,
  );
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.on('clientError', onClientError(options.logger));
  server.on('checkExpectation', listener);
  return server;
};

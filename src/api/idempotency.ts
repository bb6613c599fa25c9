import { createHmac } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { SqlExecutor } from '../application/sql';
import { IDEMPOTENCY_TTL_SECONDS, idempotencyStore, type StoredRow } from './idempotency-store';

export { IDEMPOTENCY_TTL_SECONDS, purgeExpiredIdempotencyKeys } from './idempotency-store';
import { HttpProblem } from './problem';

/**
 * `Idempotency-Key` on POST command endpoints (CONTRACT.md "General rules"; the shape follows the IETF
 * draft "The Idempotency-Key HTTP Header Field" and Stripe's practice).
 *
 * - The first request with a key claims it (a `running` row), runs, and its answer is recorded before the
 *   client sees it, so a retry that arrives after the answer always finds it.
 * - The same key with the same request (method, path, canonical body) replays the recorded status, headers
 *   and body without running the command again, marked `Idempotent-Replayed: true`.
 * - The same key with another request: 422 `idempotency-key-reused`. While the first still runs: 409
 *   `conflict` with `Retry-After`.
 * - Answers that guarantee the command had no effect and may differ on a retry are not recorded; the key is
 *   released so a retry runs again: every 5xx, 408, 409 (a concurrent modification), 425, 429.
 * - Keys live 24 h from the first request; an expired row is ignored and reclaimed by the next request, and
 *   `purgeExpiredIdempotencyKeys` deletes old rows. A `running` claim older than the lease (its process
 *   died mid-request) is reclaimed too, so a crash cannot block a key for a day.
 *
 * Scope: the route pattern plus the authenticated subject. Without a subject the scope is the route alone,
 * and deliberately NOT the client IP: an anonymous client retrying from another network (mobile handover,
 * NAT pools) must still get its replay; keys are client-generated random values, so unrelated clients do
 * not collide, and the request hash turns an accidental collision into a 422, never a foreign replay of a
 * different request.
 *
 * Secrets at rest: routes whose answer carries credentials (login, refresh: access and refresh tokens) run
 * with `storeBody: false`. For a success their row keeps only the request HMAC and the status, and a
 * replay answers 409 `conflict` (the first answer is not kept) instead of re-running the command or writing
 * a bearer token to the database. Their failures (problem bodies, which never hold a secret) replay as usual. Refresh retries are still safe without the key: the refresh-token grace
 * window returns the same successor (docs/design.md "Sessions and refresh tokens").
 */

const KEY_SYNTAX = /^[\x20-\x7e]{1,255}$/;

/** Headers worth replaying; the rest (request id, security headers, dates) are the replay's own. */
const KEPT_HEADERS = [
  'content-type',
  'content-language',
  'location',
  'cache-control',
  'link',
  'www-authenticate',
];

const TRANSIENT_STATUSES = new Set([408, 409, 425, 429]);

type IdempotencyLogger = { warn: (obj: object, msg: string) => void };

export type IdempotencyOptions = {
  /** False for routes whose answer carries a secret: see above. */
  storeBody: boolean;
  /**
   * HMAC key for request hashes (32 bytes, derived from the master key). Request bodies hold passwords;
   * an unkeyed hash of them at rest would be an offline guessing oracle.
   */
  hashKey: Buffer;
  /**
   * The authenticated subject (e.g. the access token's `sub`) or undefined for anonymous routes. Mount the
   * middleware after authentication. When it is not given and the request carries `Authorization`, the
   * scope includes an HMAC of that header, so one caller can never receive another's replay.
   */
  subject?: (req: Request, res: Response) => string | undefined;
  /** Overrides the scope's route part (default: method and matched route pattern). */
  scope?: string;
  ttlSeconds?: number;
  /** How long a `running` claim is honoured before it counts as abandoned. */
  leaseSeconds?: number;
  now?: () => Date;
  logger?: IdempotencyLogger;
};

const canonical = (value: unknown): unknown => {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((k) => [k, canonical(obj[k])]),
    );
  }
  return value ?? null;
};

const hmac = (key: Buffer, value: string): string => createHmac('sha256', key).update(value).digest('hex');

const requestPath = (req: Request): string => req.originalUrl.split('?')[0] ?? req.originalUrl;

const routeScope = (req: Request): string => {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  return `${req.method} ${typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : requestPath(req)}`;
};

const toBuffer = (chunk: unknown, encoding: unknown): Buffer | undefined => {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return undefined;
};

const keptHeaders = (res: Response): Record<string, string | string[]> => {
  const out: Record<string, string | string[]> = {};
  for (const name of KEPT_HEADERS) {
    const value = res.getHeader(name);
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
};

/**
 * Why a request that found its key already claimed is not replayed, or null when the recorded answer may
 * be replayed: another request under the key (422), the first one still running (409 with Retry-After),
 * or an answer not kept because it carried credentials (409).
 */
const refusalFor = (row: StoredRow, requestHash: string): HttpProblem | null => {
  if (row.request_hash !== requestHash) {
    return new HttpProblem(
      422,
      'idempotency-key-reused',
      'The Idempotency-Key was already used for a different request',
    );
  }
  if (row.status === 'running') {
    return new HttpProblem(409, 'conflict', 'A request with this Idempotency-Key is still being processed', {
      headers: { 'Retry-After': '1' },
    });
  }
  if (row.response_body === null) {
    return new HttpProblem(
      409,
      'conflict',
      'A request with this Idempotency-Key already completed; its answer carried credentials and is not kept. Send a new request with a new key.',
    );
  }
  return null;
};

export const idempotency = (sql: SqlExecutor, options: IdempotencyOptions): RequestHandler => {
  if (options.hashKey.length < 32) throw new RangeError('idempotency hashKey must be at least 32 bytes');
  const ttlMs = (options.ttlSeconds ?? IDEMPOTENCY_TTL_SECONDS) * 1000;
  const leaseMs = (options.leaseSeconds ?? 60) * 1000;
  const now = options.now ?? (() => new Date());

  const scopeOf = (req: Request, res: Response): string => {
    const route = options.scope ?? routeScope(req);
    const subject = options.subject?.(req, res);
    if (subject !== undefined) return `${route}#sub:${subject}`;
    const authorization = options.subject ? undefined : req.get('authorization');
    return authorization ? `${route}#auth:${hmac(options.hashKey, authorization)}` : route;
  };

  const store = idempotencyStore(sql, { ttlMs, leaseMs });

  const replay = (res: Response, row: StoredRow): void => {
    const headers =
      typeof row.response_headers === 'string'
        ? (JSON.parse(row.response_headers) as Record<string, string | string[]>)
        : (row.response_headers ?? {});
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('Idempotent-Replayed', 'true');
    const body = Buffer.from(row.response_body ?? '', 'utf8');
    res.status(row.response_status ?? 200);
    if (body.length > 0) res.setHeader('Content-Length', String(body.length));
    res.end(body);
  };

  return async (req, res, next) => {
    if (req.method !== 'POST') return next();
    const key = req.get('idempotency-key');
    if (key === undefined) return next();
    if (!KEY_SYNTAX.test(key)) {
      return next(
        new HttpProblem(400, 'validation-failed', 'The Idempotency-Key header is malformed', {
          errors: [{ path: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }],
        }),
      );
    }
    const scope = scopeOf(req, res);
    const requestHash = hmac(
      options.hashKey,
      JSON.stringify([req.method, requestPath(req), canonical(req.body)]),
    );
    const claimedAt = now();

    // A row released between our insert and our read makes the read come back empty: claim again.
    for (let attempt = 0; ; attempt += 1) {
      if (await store.claim({ scope, key, claimedAt }, requestHash)) break;
      const row = await store.find(scope, key);
      if (!row) {
        if (attempt < 2) continue;
        return next(
          new HttpProblem(409, 'conflict', 'The Idempotency-Key is in use; retry the request', {
            headers: { 'Retry-After': '1' },
          }),
        );
      }
      const refusal = refusalFor(row, requestHash);
      if (refusal) return next(refusal);
      return replay(res, row);
    }

    captureAndRecord(
      req,
      res,
      async (status, body) => {
        const claimed = { scope, key, claimedAt };
        if (status >= 500 || TRANSIENT_STATUSES.has(status)) return store.release(claimed);
        // Problem answers never carry a secret (CONTRACT.md), so only a success body can be withheld.
        const keep = options.storeBody || status < 200 || status >= 300;
        await store.finish(
          claimed,
          status,
          keep ? { headers: keptHeaders(res), body: body.toString('utf8') } : null,
        );
      },
      options.logger,
    );
    next();
  };
};

/**
 * Holds the end of the response until `record` has run, so a client can never hold an answer whose record
 * a retry would not find. A failed record is logged and the answer still goes out: the command ran, and the
 * claim then expires with its lease.
 */
const captureAndRecord = (
  req: Request,
  res: Response,
  record: (status: number, body: Buffer) => Promise<void>,
  logger: IdempotencyLogger | undefined,
): void => {
  const chunks: Buffer[] = [];
  const originalWrite = res.write.bind(res) as (...args: unknown[]) => boolean;
  const originalEnd = res.end.bind(res) as (...args: unknown[]) => Response;
  let ended = false;

  res.write = ((...args: unknown[]) => {
    const chunk = toBuffer(args[0], args[1]);
    if (chunk) chunks.push(chunk);
    return originalWrite(...args);
  }) as Response['write'];

  res.end = ((...args: unknown[]) => {
    if (ended) return originalEnd(...args);
    ended = true;
    const chunk = toBuffer(args[0], args[1]);
    if (chunk) chunks.push(chunk);
    record(res.statusCode, Buffer.concat(chunks))
      .catch((e: unknown) => {
        (logger ?? req.log)?.warn(
          { err: e instanceof Error ? e.message : String(e) },
          'idempotency record failed; the key stays claimed until its lease ends',
        );
      })
      .finally(() => originalEnd(...args));
    return res;
  }) as Response['end'];
};

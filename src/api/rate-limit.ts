import { isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { HttpProblem } from './problem';

/**
 * Per-client token buckets (CONTRACT.md "General rules": per-IP rate limits). A bucket holds at most
 * `capacity` tokens and gains `refillPerMinute` tokens a minute, continuously; a request takes one token or
 * is refused with the time until the next token exists.
 */

export type RateRule = { capacity: number; refillPerMinute: number };

export type RateDecision = {
  allowed: boolean;
  /** Whole seconds until one token is available again; 0 when allowed. */
  retryAfterSeconds: number;
  /** Whole tokens left after this take. */
  remaining: number;
};

export interface RateLimiter {
  take(bucket: string, key: string, rule: RateRule): Promise<RateDecision>;
}

type RateLogger = { warn: (obj: object, msg: string) => void };

const MS_PER_MINUTE = 60_000;

const assertRule = (rule: RateRule): void => {
  if (!(rule.capacity >= 1) || !(rule.refillPerMinute > 0)) {
    throw new RangeError('a rate rule needs capacity >= 1 and refillPerMinute > 0');
  }
};

const retryAfter = (tokens: number, perMs: number): number =>
  Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));

type MemoryBucket = { tokens: number; at: number; fullAt: number };

export type MemoryRateLimiterOptions = {
  /** Upper bound on tracked keys, so a flood of distinct addresses cannot grow the heap without limit. */
  maxKeys?: number;
  now?: () => number;
};

/**
 * One process's buckets. Refill is computed lazily on each take, so idle keys cost nothing but memory, and
 * a bucket that has refilled to capacity is indistinguishable from an absent one: those are swept.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, MemoryBucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
    this.lastSweep = this.now();
  }

  get size(): number {
    return this.buckets.size;
  }

  take(bucket: string, key: string, rule: RateRule): Promise<RateDecision> {
    assertRule(rule);
    const now = this.now();
    const perMs = rule.refillPerMinute / MS_PER_MINUTE;
    const id = `${bucket}\u0000${key}`;
    const current = this.buckets.get(id);
    // A clock that steps back must not mint tokens nor drain them.
    const elapsed = current ? Math.max(0, now - current.at) : 0;
    let tokens = current ? Math.min(rule.capacity, current.tokens + elapsed * perMs) : rule.capacity;
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    // Delete and re-insert: the map's insertion order is then least-recently-used first.
    this.buckets.delete(id);
    this.buckets.set(id, { tokens, at: now, fullAt: now + (rule.capacity - tokens) / perMs });
    this.evict(now);
    return Promise.resolve({
      allowed,
      retryAfterSeconds: allowed ? 0 : retryAfter(tokens, perMs),
      remaining: Math.floor(tokens),
    });
  }

  private evict(now: number): void {
    if (this.buckets.size > this.maxKeys || now - this.lastSweep >= MS_PER_MINUTE) {
      this.lastSweep = now;
      for (const [id, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(id);
    }
    // Still over the bound: only live, partly drained buckets are left. Dropping the least recently used
    // one hands that client a fresh budget, which is the lesser harm than unbounded memory.
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }
}

/**
 * One atomic step per take, run inside Redis so that every instance draws on the same budget. The clock is
 * Redis's own (TIME), so clock skew between instances cannot mint tokens. The key expires when the bucket
 * would be full again, because a full bucket and no bucket mean the same.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / per_ms)))
local retry_ms = 0
if allowed == 0 then retry_ms = math.ceil((1 - tokens) / per_ms) end
return {allowed, math.floor(tokens), retry_ms}
`;

const COMMAND = 'identityRateLimitTake';

type TakeCommand = (key: string, capacity: string, perMs: string) => Promise<[number, number, number]>;

export type RedisRateLimiterOptions = {
  logger: RateLogger;
  /** Namespace of the bucket keys. */
  prefix?: string;
  /** A take that Redis has not answered by then counts as an outage (fail open). */
  timeoutMs?: number;
  now?: () => number;
};

/**
 * Buckets shared by every instance through Redis.
 *
 * When Redis fails or is slow, the take is ALLOWED (fail open), with a warning at most once a minute.
 * The limits blunt credential stuffing and mail flooding, but the defences that protect an account do not
 * depend on them: lockout is counted in the account's own stream and mail is throttled per address in the
 * decider. Failing closed would turn a cache outage into a total outage of sign-in for every user, which for
 * an identity service is the larger harm.
 *
 * The client should be created with `enableOfflineQueue: false` (or a low `maxRetriesPerRequest`) so a
 * dead Redis answers at once; `timeoutMs` bounds the wait either way.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private lastWarnAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisRateLimiterOptions,
  ) {
    this.prefix = options.prefix ?? 'identity:rate:';
    this.timeoutMs = options.timeoutMs ?? 250;
    this.now = options.now ?? Date.now;
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  async take(bucket: string, key: string, rule: RateRule): Promise<RateDecision> {
    assertRule(rule);
    const perMs = rule.refillPerMinute / MS_PER_MINUTE;
    const command = (this.redis as unknown as Record<typeof COMMAND, TakeCommand>)[COMMAND].bind(this.redis);
    let timer: NodeJS.Timeout | undefined;
    try {
      const [allowed, remaining, retryMs] = await Promise.race([
        command(`${this.prefix}${bucket}:${key}`, String(rule.capacity), perMs.toPrecision(17)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
      return {
        allowed: allowed === 1,
        retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
        remaining,
      };
    } catch (e) {
      this.warnOutage(e);
      return { allowed: true, retryAfterSeconds: 0, remaining: Math.max(0, Math.floor(rule.capacity) - 1) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private warnOutage(e: unknown): void {
    const now = this.now();
    if (now - this.lastWarnAt < MS_PER_MINUTE) return;
    this.lastWarnAt = now;
    this.options.logger.warn(
      { err: e instanceof Error ? e.message : String(e) },
      'rate limiter store unavailable; requests are allowed without a limit until it recovers',
    );
  }
}

/**
 * The key a client is counted under. An IPv6 client controls at least a /64, so counting single addresses
 * would let it rotate through 2^64 keys; it is counted per /64. IPv4-mapped IPv6 counts as the IPv4 address.
 */
export const clientKey = (ip: string | undefined): string => {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (isIP(ip) !== 6) return ip;
  return `${expandIpv6(ip).slice(0, 4).join(':')}::/64`;
};

const expandIpv6 = (ip: string): string[] => {
  const withoutZone = ip.split('%')[0] ?? ip;
  const [head = '', tail] = withoutZone.split('::');
  const parse = (part: string): string[] => (part ? part.split(':') : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail takes two groups; only the first four groups matter here, so it counts as two.
  const groups = (xs: string[]): number => xs.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? [] : Array<string>(8 - groups(left) - groups(right)).fill('0');
  return [...left, ...zeros, ...right].map((g) =>
    g.includes('.') ? g : g.toLowerCase().replace(/^0+(?=.)/, ''),
  );
};

/**
 * Express middleware for one bucket. The client address is `req.ip`, which honours the app's `trust proxy`
 * setting (TRUST_PROXY), so a spoofed X-Forwarded-For counts only when a trusted proxy set it.
 */
export const rateLimit = (
  limiter: RateLimiter,
  bucketName: string,
  rule: RateRule,
  enabled: boolean,
): RequestHandler => {
  assertRule(rule);
  if (!enabled) return (_req, _res, next) => next();
  return async (req: Request, _res, next) => {
    const decision = await limiter.take(bucketName, clientKey(req.ip ?? req.socket.remoteAddress), rule);
    if (decision.allowed) {
      next();
      return;
    }
    next(
      new HttpProblem(429, 'rate-limited', 'Too many requests', {
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      }),
    );
  };
};

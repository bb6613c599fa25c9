import type { Redis } from 'ioredis';
import {
  assertRateRule,
  type RateDecision,
  type RateLimiter,
  type RateRule,
} from '../application/rate-limits';

/** The token buckets of application/rate-limits.ts: in this process, or shared by every instance in Redis. */

type RateLogger = { warn: (obj: object, msg: string) => void };

const MS_PER_MINUTE = 60_000;

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
    assertRateRule(rule);
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
    assertRateRule(rule);
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

/**
 * Per-client token buckets (CONTRACT.md "General rules": per-IP rate limits). A bucket holds at most
 * `capacity` tokens and gains `refillPerMinute` tokens a minute, continuously; a request takes one token or
 * is refused with the time until the next token exists. The port; the buckets live in memory or in Redis
 * (infrastructure/rate-limiters.ts), the HTTP middleware in api/rate-limit.ts.
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

export const assertRateRule = (rule: RateRule): void => {
  if (!(rule.capacity >= 1) || !(rule.refillPerMinute > 0)) {
    throw new RangeError('a rate rule needs capacity >= 1 and refillPerMinute > 0');
  }
};

import { isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { assertRateRule, type RateLimiter, type RateRule } from '../application/rate-limits';
import { HttpProblem } from './problem';

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
  assertRateRule(rule);
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

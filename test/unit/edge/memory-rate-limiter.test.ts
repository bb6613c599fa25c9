import { clientKey } from '../../../src/api/rate-limit';
import { MemoryRateLimiter } from '../../../src/infrastructure/rate-limiters';

const rule = { capacity: 3, refillPerMinute: 6 }; // one token every 10 s

const clock = (start = 1_700_000_000_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('MemoryRateLimiter', () => {
  it('allows up to the capacity, then refuses with the seconds until the next token', async () => {
    const c = clock();
    const limiter = new MemoryRateLimiter({ now: c.now });
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await limiter.take('login', '10.0.0.1', rule));
    expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false]);
    expect(answers.map((a) => a.remaining)).toEqual([2, 1, 0, 0]);
    expect(answers[3]?.retryAfterSeconds).toBe(10);
    expect(answers[0]?.retryAfterSeconds).toBe(0);
  });

  it('refills continuously over time and never above the capacity', async () => {
    const c = clock();
    const limiter = new MemoryRateLimiter({ now: c.now });
    for (let i = 0; i < 3; i += 1) await limiter.take('login', 'k', rule);
    c.advance(4_000);
    const early = await limiter.take('login', 'k', rule);
    expect(early).toEqual({ allowed: false, retryAfterSeconds: 6, remaining: 0 });
    c.advance(6_000);
    expect((await limiter.take('login', 'k', rule)).allowed).toBe(true);
    expect((await limiter.take('login', 'k', rule)).allowed).toBe(false);
    c.advance(10 * 60_000);
    const afterLongIdle = [];
    for (let i = 0; i < 4; i += 1) afterLongIdle.push((await limiter.take('login', 'k', rule)).allowed);
    expect(afterLongIdle).toEqual([true, true, true, false]);
  });

  it('keeps buckets and keys apart', async () => {
    const limiter = new MemoryRateLimiter({ now: clock().now });
    const one = { capacity: 1, refillPerMinute: 1 };
    expect((await limiter.take('login', 'a', one)).allowed).toBe(true);
    expect((await limiter.take('login', 'a', one)).allowed).toBe(false);
    expect((await limiter.take('login', 'b', one)).allowed).toBe(true);
    expect((await limiter.take('register', 'a', one)).allowed).toBe(true);
  });

  it('does not mint tokens when the clock steps back', async () => {
    const c = clock();
    const limiter = new MemoryRateLimiter({ now: c.now });
    const one = { capacity: 1, refillPerMinute: 1 };
    await limiter.take('b', 'k', one);
    c.advance(-30_000);
    expect((await limiter.take('b', 'k', one)).allowed).toBe(false);
  });

  it('stays within its key bound, dropping full buckets first', async () => {
    const c = clock();
    const limiter = new MemoryRateLimiter({ now: c.now, maxKeys: 10 });
    for (let i = 0; i < 10; i += 1) await limiter.take('b', `full-${i}`, rule);
    c.advance(60_000); // every bucket so far has refilled
    await limiter.take('b', 'drained', { capacity: 1, refillPerMinute: 1 });
    expect(limiter.size).toBe(1);
    for (let i = 0; i < 50; i += 1) await limiter.take('b', `flood-${i}`, rule);
    expect(limiter.size).toBeLessThanOrEqual(10);
  });
});

describe('clientKey', () => {
  it('counts an IPv6 client per /64 and a mapped IPv4 client as IPv4', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey(undefined)).toBe('unknown');
  });
});

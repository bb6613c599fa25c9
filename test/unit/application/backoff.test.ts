import { backoffDelay } from '../../../src/application/backoff';

describe('backoffDelay', () => {
  const at = (r: number) => () => r;

  it('doubles from the minimum and stops at the maximum', () => {
    const nominal = [1, 2, 3, 4, 5, 6, 40].map((n) =>
      backoffDelay(n, { minMs: 100, maxMs: 1000, jitter: 0 }),
    );
    expect(nominal).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('equal jitter by default: between half the delay and the whole of it', () => {
    expect(backoffDelay(3, { minMs: 100, maxMs: 10_000, random: at(0) })).toBe(200);
    expect(backoffDelay(3, { minMs: 100, maxMs: 10_000, random: at(0.999999) })).toBe(400);
    expect(backoffDelay(3, { minMs: 100, maxMs: 10_000, random: at(0.5) })).toBe(300);
  });

  it('full jitter may retry at once; the random draw spreads instances apart', () => {
    expect(backoffDelay(2, { minMs: 100, maxMs: 1000, jitter: 1, random: at(0) })).toBe(0);
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(5, { minMs: 100, maxMs: 10_000 })));
    expect(draws.size).toBeGreaterThan(10);
    for (const d of draws) expect(d).toBeGreaterThanOrEqual(800);
  });

  it('a first attempt of zero or less is the first retry; huge attempts do not overflow', () => {
    expect(backoffDelay(0, { minMs: 50, maxMs: 500, jitter: 0 })).toBe(50);
    expect(backoffDelay(10_000, { minMs: 50, maxMs: 500, jitter: 0 })).toBe(500);
  });
});

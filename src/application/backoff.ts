/**
 * The one retry delay of the service: exponential from `minMs`, capped at `maxMs`, with "equal jitter"
 * (half the delay fixed, half random) so instances that failed together do not retry together, while a
 * retry never comes sooner than half the nominal delay. Every retry loop uses it: subscription runners, the
 * mail outbox, the PostgreSQL listener, the store's waits for in-flight transactions.
 */
export type BackoffOptions = {
  minMs: number;
  maxMs: number;
  /** 0 (none) to 1 (the whole delay random); 0.5 by default. */
  jitter?: number;
  /** For tests: a source of [0, 1). */
  random?: () => number;
};

/** The delay before retry number `attempt` (1 for the first retry). */
export const backoffDelay = (attempt: number, options: BackoffOptions): number => {
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const random = options.random ?? Math.random;
  const nominal = Math.min(options.maxMs, options.minMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(nominal * (1 - jitter) + nominal * jitter * random());
};

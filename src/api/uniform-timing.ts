import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Answers that must not tell an existing account from an unknown one by their timing (CWE-208): register,
 * resend-verification, forgot-password and a refused login (CONTRACT.md "Accounts", docs/design.md
 * "Uniform timing"). Their bodies are already identical, but the paths do different work: an existing
 * account costs one or two appends that an unknown address does not. Every such answer is therefore held
 * until a floor: a high quantile of how long the slowest path (the one that does all the work) took
 * recently. The slow path's own answers wait for the same floor, so both leave at the same moment except
 * for the slow path's tail above the quantile.
 *
 * Only the slowest path teaches the floor: were it learned from every answer, a caller sending only
 * unknown addresses would pull it down until one existing address stood out again. The work itself still
 * happens before the answer, so a 2xx still means the command was persisted.
 */
export type UniformTimingOptions = {
  /** Recent slow-path durations kept (a ring). */
  window?: number;
  /** The floor is this quantile of the window. */
  quantile?: number;
  /** The floor while fewer than `warmup` slow-path durations were seen: a guess at this machine's cost. */
  initialMs: number;
  warmup?: number;
  /** Never hold an answer longer than this: a stalled store must not make every answer slow. */
  maxMs?: number;
  /** Milliseconds from some origin; `performance.now` unless a test steers it. */
  now?: () => number;
};

/** The response being held: its 'finish' tells when the answer really left. */
export type Finishing = { once(event: 'finish', listener: () => void): unknown };

export type TimedAnswer = {
  /**
   * Waits until the floor has passed since `begin()`. `slowPath`: this request did all the work the slowest
   * outcome does; its duration teaches the floor. With `res`, the duration is taken when the answer has
   * left, less the time held: the slow path's append wakes this process's subscriptions, whose work can
   * delay the answer's write after the work itself is done (on the embedded store the database runs on
   * this very thread), and that delay must be under the floor too.
   */
  hold(slowPath: boolean, res?: Finishing): Promise<void>;
};

const HEADROOM = 1.1;

export class UniformTiming {
  private readonly samples: number[] = [];
  private next = 0;
  private readonly size: number;
  private readonly quantile: number;
  private readonly warmup: number;
  private readonly maxMs: number;
  private floorMs: number;
  private readonly now: () => number;

  constructor(private readonly options: UniformTimingOptions) {
    this.size = options.window ?? 64;
    this.quantile = options.quantile ?? 0.97;
    this.warmup = options.warmup ?? 8;
    this.maxMs = options.maxMs ?? 2_000;
    this.floorMs = options.initialMs;
    this.now = options.now ?? (() => performance.now());
  }

  /** The current floor in milliseconds. */
  get floor(): number {
    return this.floorMs;
  }

  begin(): TimedAnswer {
    const started = this.now();
    return {
      hold: async (slowPath: boolean, res?: Finishing) => {
        const elapsed = this.now() - started;
        const wait = Math.max(0, Math.min(this.floorMs, this.maxMs) - elapsed);
        if (slowPath) {
          // Less the time held, so the floor never feeds on itself.
          if (res) res.once('finish', () => this.learn(this.now() - started - wait));
          else this.learn(elapsed);
        }
        if (wait > 0) await sleep(wait);
      },
    };
  }

  private learn(ms: number): void {
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
    const sorted = [...this.samples].sort((a, b) => a - b);
    // Headroom over the quantile, for what a window of 64 has not seen yet.
    const learned =
      (sorted[Math.min(sorted.length - 1, Math.floor(this.quantile * sorted.length))] as number) * HEADROOM +
      1;
    // Until the window holds enough, the guess stands unless the machine proves slower.
    this.floorMs = sorted.length < this.warmup ? Math.max(this.options.initialMs, learned) : learned;
  }
}

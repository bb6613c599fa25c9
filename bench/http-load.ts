import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { summarise, type Summary } from './stats';

export type Call = {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
};

export type Answer = { status: number; body: unknown };

/** One HTTP client per service origin, each with a fixed number of keep-alive connections. */
export class Clients {
  private readonly pools: Pool[];

  constructor(
    readonly origins: string[],
    connectionsPerOrigin: number,
  ) {
    this.pools = origins.map((o) => new Pool(o, { connections: connectionsPerOrigin, pipelining: 1 }));
  }

  async call(call: Call, worker = 0): Promise<Answer> {
    const pool = this.pools[worker % this.pools.length] as Pool;
    const res = await pool.request({
      method: call.method,
      path: call.path,
      headers: {
        ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...call.headers,
      },
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
    });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: kept as text for the error message
    }
    return { status: res.statusCode, body };
  }

  async expect(call: Call, status: number, worker = 0): Promise<Answer> {
    const answer = await this.call(call, worker);
    if (answer.status !== status) {
      throw new Error(`${call.method} ${call.path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return answer;
  }

  close(): Promise<void> {
    return Promise.all(this.pools.map((p) => p.close())).then(() => undefined);
  }
}

/**
 * Runs `op` in `workers` closed loops (one request in flight each, so the offered load is fixed by the
 * number of connections) for `seconds`, or until `count` operations completed. A failed operation is
 * counted, not timed; more than a tenth failing means the measurement is broken, and it throws.
 */
export const drive = async (options: {
  workers: number;
  seconds?: number;
  count?: number;
  op: (worker: number, i: number) => Promise<void>;
}): Promise<Summary> => {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  let firstError: unknown;
  const started = performance.now();
  const until = options.seconds === undefined ? Infinity : started + options.seconds * 1000;
  const limit = options.count ?? Infinity;
  await Promise.all(
    Array.from({ length: options.workers }, async (_, w) => {
      while (performance.now() < until && issued < limit) {
        const i = issued++;
        const t = performance.now();
        try {
          await options.op(w, i);
          latencies.push(performance.now() - t);
        } catch (e) {
          errors += 1;
          firstError ??= e;
        }
      }
    }),
  );
  const summary = summarise(latencies, (performance.now() - started) / 1000, errors);
  if (errors > 0 && errors * 10 > errors + latencies.length) {
    throw new Error(`${errors} of ${issued} operations failed; first: ${(firstError as Error)?.message}`);
  }
  return summary;
};

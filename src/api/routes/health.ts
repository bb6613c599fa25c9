import type { RequestHandler } from 'express';
import { HealthLive, HealthReady } from '../openapi/schemas';
import { ok, type RouteDef } from './route';

/** `degraded`: working, but a part of it is not (a relay target that is down); ready all the same. */
export type ReadinessCheck = {
  name: string;
  check: () => Promise<{ ok: boolean; degraded?: boolean; detail?: string }>;
};

const withTimeout = async <T>(p: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
};

const live = (): RequestHandler => (_req, res) => {
  res.setHeader('Cache-Control', 'no-store');
  res.json({ status: 'ok' });
};

/** Every check, each bounded to 2 s; a check that throws or times out is down ('unreachable'). */
export const runReadinessChecks = (
  checks: readonly ReadinessCheck[],
): Promise<{ name: string; ok: boolean; detail?: string }[]> =>
  Promise.all(
    checks.map(async (c) => {
      try {
        const r = await withTimeout(c.check(), 2000);
        return { name: c.name, ...r };
      } catch {
        return { name: c.name, ok: false, detail: 'unreachable' };
      }
    }),
  );

const ready =
  (checks: ReadinessCheck[]): RequestHandler =>
  async (_req, res) => {
    const results = await runReadinessChecks(checks);
    const up = results.every((r) => r.ok);
    res.setHeader('Cache-Control', 'no-store');
    if (!up) res.setHeader('Retry-After', '5');
    res.status(up ? 200 : 503).json({
      status: up ? 'ready' : 'unavailable',
      checks: Object.fromEntries(
        results.map((r) => [
          r.name,
          {
            status: !r.ok ? 'down' : 'degraded' in r && r.degraded ? 'degraded' : 'up',
            ...(r.detail ? { detail: r.detail } : {}),
          },
        ]),
      ),
    });
  };

/**
 * `/health/live` answers from memory (the process is up); `/health/ready` asks every backing part and
 * answers 503 naming the failing ones, so a load balancer stops routing to an instance that cannot serve.
 */
export const HEALTH_ROUTES: RouteDef<ReadinessCheck[]>[] = [
  {
    method: 'get',
    path: '/health/live',
    summary: 'Liveness: the process is up',
    tag: 'Operations',
    responses: { 200: ok('Alive', HealthLive) },
    handler: live,
  },
  {
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness: event store, database and projection lag',
    tag: 'Operations',
    responses: {
      200: ok('Every check is up', HealthReady),
      503: {
        ...ok('A check is down; the instance should get no traffic', HealthReady),
        headers: { 'Retry-After': 'Seconds' },
      },
    },
    handler: ready,
  },
];

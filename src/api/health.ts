import type { RouteTable } from './routes';
import { createRouteTable } from './routes';

export type ReadinessCheck = { name: string; check: () => Promise<{ ok: boolean; detail?: string }> };

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

/**
 * `/health/live` answers from memory (the process is up); `/health/ready` asks every backing part and
 * answers 503 naming the failing ones, so a load balancer stops routing to an instance that cannot serve.
 */
export const healthRoutes = (checks: ReadinessCheck[]): RouteTable => {
  const table = createRouteTable();
  table.add('get', '/health/live', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  table.add('get', '/health/ready', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          const r = await withTimeout(c.check(), 2000);
          return { name: c.name, ...r };
        } catch {
          return { name: c.name, ok: false, detail: 'unreachable' };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    res.setHeader('Cache-Control', 'no-store');
    if (!ok) res.setHeader('Retry-After', '5');
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ready' : 'unavailable',
      checks: Object.fromEntries(
        results.map((r) => [
          r.name,
          { status: r.ok ? 'up' : 'down', ...(r.detail ? { detail: r.detail } : {}) },
        ]),
      ),
    });
  });
  return table;
};

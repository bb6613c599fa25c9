import express from 'express';
import request from 'supertest';
import { rateLimit } from '../../../src/api/rate-limit';
import type { RateLimiter } from '../../../src/application/rate-limits';
import { MemoryRateLimiter } from '../../../src/infrastructure/rate-limiters';
import { HttpProblem } from '../../../src/api/problem';

const appWith = (limiter: RateLimiter, enabled: boolean, trustProxy: boolean | number = false) => {
  const app = express();
  app.set('trust proxy', trustProxy);
  let served = 0;
  app.post(
    '/login',
    rateLimit(limiter, 'login', { capacity: 2, refillPerMinute: 2 }, enabled),
    (_req, res) => {
      served += 1;
      res.status(200).json({ ok: true });
    },
  );
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const p = err as HttpProblem;
    for (const [k, v] of Object.entries(p.extra.headers ?? {})) res.setHeader(k, v);
    res.status(p.status).json({ code: p.code, problem: p instanceof HttpProblem });
  });
  return { app, served: () => served };
};

describe('rateLimit middleware', () => {
  it('answers 429 rate-limited with Retry-After once the bucket is empty, without running the handler', async () => {
    const { app, served } = appWith(new MemoryRateLimiter(), true);
    await request(app).post('/login').expect(200);
    await request(app).post('/login').expect(200);
    const refused = await request(app).post('/login').expect(429);
    expect(refused.body).toEqual({ code: 'rate-limited', problem: true });
    expect(Number(refused.headers['retry-after'])).toBe(30);
    expect(served()).toBe(2);
  });

  it('lets everything through when switched off', async () => {
    const { app, served } = appWith(new MemoryRateLimiter(), false);
    for (let i = 0; i < 5; i += 1) await request(app).post('/login').expect(200);
    expect(served()).toBe(5);
  });

  it('ignores X-Forwarded-For unless a proxy is trusted', async () => {
    const untrusted = appWith(new MemoryRateLimiter(), true);
    for (const ip of ['1.1.1.1', '2.2.2.2'])
      await request(untrusted.app).post('/login').set('X-Forwarded-For', ip).expect(200);
    await request(untrusted.app).post('/login').set('X-Forwarded-For', '3.3.3.3').expect(429);

    const trusted = appWith(new MemoryRateLimiter(), true, 1);
    for (const ip of ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4']) {
      await request(trusted.app).post('/login').set('X-Forwarded-For', ip).expect(200);
    }
  });
});

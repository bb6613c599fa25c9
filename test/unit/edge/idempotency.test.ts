import { randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import {
  idempotency,
  purgeExpiredIdempotencyKeys,
  type IdempotencyOptions,
} from '../../../src/api/idempotency';
import { toProblem } from '../../../src/api/errors';
import { sendProblem } from '../../../src/api/problem';
import { openTestSql, type TestSql } from './pglite-sql';

let sql: TestSql;
beforeAll(async () => {
  sql = await openTestSql();
});
afterAll(async () => {
  await sql.close();
});

const hashKey = randomBytes(32);
const onError: ErrorRequestHandler = (err, _req, res, _next) => sendProblem(res, toProblem(err));

/** An app whose one command route counts its runs; `answer` decides each run's response. */
const appWith = (
  answer: (run: number, req: express.Request, res: express.Response) => Promise<void> | void,
  options: Partial<IdempotencyOptions> = {},
) => {
  const app = express();
  app.use(express.json());
  let runs = 0;
  const handler: RequestHandler = async (req, res) => {
    runs += 1;
    await answer(runs, req, res);
  };
  const guard = idempotency(sql, { storeBody: true, hashKey, ...options });
  app.post('/v1/auth/register', guard, handler);
  app.post('/v1/auth/forgot-password', guard, handler);
  app.use(onError);
  return { app, runs: () => runs };
};

const accepted = (run: number, _req: express.Request, res: express.Response) => {
  res.status(202).setHeader('Cache-Control', 'no-store');
  res.json({ status: 'pending_verification', run });
};

let keyCounter = 0;
const freshKey = () => `key-${Date.now()}-${(keyCounter += 1)}`;

const rowOf = async (key: string) =>
  (
    await sql.query<{ status: string; response_body: string | null; request_hash: string }>(
      'select status, response_body, request_hash from idempotency_keys where key = $1',
      [key],
    )
  ).rows;

describe('Idempotency-Key', () => {
  it('replays the first answer for the same key and body without running the command again', async () => {
    const { app, runs } = appWith(accepted);
    const key = freshKey();
    const first = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'a@example.com', password: 'x'.repeat(12) })
      .expect(202);
    // Same body, members in another order: the canonical form is the same request.
    const second = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ password: 'x'.repeat(12), email: 'a@example.com' })
      .expect(202);
    expect(runs()).toBe(1);
    expect(second.body).toEqual(first.body);
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.headers['cache-control']).toBe('no-store');
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
  });

  it('records the answer before the client receives it', async () => {
    // A slow database: the record takes longer than the answer would need to reach the client.
    const slowSql = {
      query: async <R>(text: string, params?: readonly unknown[]) => {
        if (/^\s*update idempotency_keys/.test(text)) await new Promise((r) => setTimeout(r, 150));
        return sql.query<R>(text, params);
      },
    };
    const app = express();
    app.use(express.json());
    app.post('/v1/auth/register', idempotency(slowSql, { storeBody: true, hashKey }), (_req, res) =>
      accepted(1, _req, res),
    );
    const key = freshKey();
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'b@example.com' })
      .expect(202);
    expect((await rowOf(key))[0]?.status).toBe('done');
  });

  it('keeps no password in a readable form: the request is stored as a keyed hash only', async () => {
    const { app } = appWith(accepted);
    const key = freshKey();
    const password = 'correct horse battery staple';
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'c@example.com', password })
      .expect(202);
    const dump = JSON.stringify(
      (await sql.query('select * from idempotency_keys where key = $1', [key])).rows,
    );
    expect(dump).not.toContain(password);
    expect((await rowOf(key))[0]?.request_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 422 idempotency-key-reused for the same key with another body', async () => {
    const { app, runs } = appWith(accepted);
    const key = freshKey();
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'd@example.com' })
      .expect(202);
    const reused = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'e@example.com' })
      .expect(422);
    expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reused.body.code).toBe('idempotency-key-reused');
    expect(runs()).toBe(1);
  });

  it('answers 409 conflict while the first request with the key still runs, and replays once it is done', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const { app, runs } = appWith(async (run, req, res) => {
      started();
      await gate;
      accepted(run, req, res);
    });
    const key = freshKey();
    const body = { email: 'f@example.com' };
    const first = request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send(body)
      .then((r) => r);
    await running;
    const concurrent = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send(body)
      .expect(409);
    expect(concurrent.body.code).toBe('conflict');
    expect(concurrent.headers['retry-after']).toBe('1');
    release();
    expect((await first).status).toBe(202);
    const retry = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send(body)
      .expect(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(runs()).toBe(1);
  });

  it('does not keep a 5xx answer: a retry with the key runs the command again', async () => {
    const { app, runs } = appWith((run, req, res) => {
      if (run === 1) throw new Error('store is down');
      accepted(run, req, res);
    });
    const key = freshKey();
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'g@example.com' })
      .expect(500);
    expect(await rowOf(key)).toHaveLength(0);
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'g@example.com' })
      .expect(202);
    expect(runs()).toBe(2);
  });

  it('does not keep a 409 from the command (a retry may succeed), but does keep other client errors', async () => {
    const { app, runs } = appWith((run, _req, res) => {
      res.status(run === 1 ? 409 : 400).json({ run });
    });
    const key = freshKey();
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(409);
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(400);
    const replayed = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ n: 1 })
      .expect(400);
    expect(replayed.body).toEqual({ run: 2 });
    expect(runs()).toBe(2);
  });

  it('replays an empty 204 answer', async () => {
    const { app, runs } = appWith((_run, _req, res) => void res.status(204).end());
    const key = freshKey();
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(204);
    const again = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ n: 1 })
      .expect(204);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(runs()).toBe(1);
  });

  it.each([
    ['empty', ''],
    ['longer than 255 characters', 'k'.repeat(256)],
    ['not ASCII', 'caf\u00e9'],
  ])('answers 400 validation-failed for a key that is %s', async (_label, key) => {
    const { app, runs } = appWith(accepted);
    const res = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ email: 'h@example.com' })
      .expect(400);
    expect(res.body.code).toBe('validation-failed');
    expect(res.body.errors).toEqual([{ path: 'Idempotency-Key', message: expect.any(String) }]);
    expect(runs()).toBe(0);
  });

  it('accepts a 255-character key and runs every request that has no key', async () => {
    const { app, runs } = appWith(accepted);
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', '~'.repeat(255))
      .send({ n: 1 })
      .expect(202);
    await request(app).post('/v1/auth/register').send({ n: 1 }).expect(202);
    await request(app).post('/v1/auth/register').send({ n: 1 }).expect(202);
    expect(runs()).toBe(3);
  });

  it('scopes keys per route and per subject', async () => {
    let subject = 'user-1';
    const { app, runs } = appWith(accepted, { subject: () => subject });
    const key = freshKey();
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(202);
    await request(app)
      .post('/v1/auth/forgot-password')
      .set('Idempotency-Key', key)
      .send({ n: 1 })
      .expect(202);
    subject = 'user-2';
    const other = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ n: 1 })
      .expect(202);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(runs()).toBe(3);
  });

  it("without a subject function, never replays one bearer caller's answer to another", async () => {
    const { app, runs } = appWith(accepted);
    const key = freshKey();
    await request(app)
      .post('/v1/auth/register')
      .set('Authorization', 'Bearer one')
      .set('Idempotency-Key', key)
      .send({ n: 1 })
      .expect(202);
    const other = await request(app)
      .post('/v1/auth/register')
      .set('Authorization', 'Bearer two')
      .set('Idempotency-Key', key)
      .send({ n: 1 })
      .expect(202);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(runs()).toBe(2);
  });

  it('ignores and reclaims a key after 24 hours, and purges old rows', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const { app, runs } = appWith(accepted, { now: () => now });
    const key = freshKey();
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(202);
    now = new Date('2030-01-01T23:59:00Z');
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 2 }).expect(422);
    now = new Date('2030-01-02T00:00:01Z');
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 2 }).expect(202);
    expect(runs()).toBe(2);
    const purged = await purgeExpiredIdempotencyKeys(sql, { now: new Date('2030-01-03T00:00:02Z') });
    expect(purged).toBeGreaterThanOrEqual(1);
    expect(await rowOf(key)).toHaveLength(0);
  });

  it('reclaims a running claim whose process died once its lease is over', async () => {
    let now = new Date('2031-01-01T00:00:00Z');
    const { app, runs } = appWith(accepted, { now: () => now, leaseSeconds: 60 });
    const key = freshKey();
    const scope = 'POST /v1/auth/register';
    await sql.query(
      `insert into idempotency_keys (scope, key, request_hash, status, created_at) values ($1, $2, 'x', 'running', $3)`,
      [scope, key, now.toISOString()],
    );
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(422);
    now = new Date('2031-01-01T00:01:01Z');
    await request(app).post('/v1/auth/register').set('Idempotency-Key', key).send({ n: 1 }).expect(202);
    expect(runs()).toBe(1);
  });
});

describe('Idempotency-Key on routes whose answer carries credentials (storeBody: false)', () => {
  const tokenAnswer = (run: number, req: express.Request, res: express.Response) => {
    if ((req.body as { password?: string }).password !== 'right') {
      res
        .status(401)
        .type('application/problem+json')
        .send(JSON.stringify({ code: 'invalid-credentials', run }));
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      access_token: `secret-access-${run}`,
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: `secret-refresh-${run}`,
    });
  };

  it('never writes the token to the database and answers a replay with 409 conflict', async () => {
    const { app, runs } = appWith(tokenAnswer, { storeBody: false });
    const key = freshKey();
    const first = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ password: 'right' })
      .expect(200);
    expect(first.body.refresh_token).toBe('secret-refresh-1');
    const dump = JSON.stringify(
      (await sql.query('select * from idempotency_keys where key = $1', [key])).rows,
    );
    expect(dump).not.toContain('secret-');
    const replay = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ password: 'right' })
      .expect(409);
    expect(replay.body.code).toBe('conflict');
    expect(JSON.stringify(replay.body)).not.toContain('secret-');
    expect(runs()).toBe(1);
  });

  it('still replays a failure, which holds no secret', async () => {
    const { app, runs } = appWith(tokenAnswer, { storeBody: false });
    const key = freshKey();
    await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ password: 'wrong' })
      .expect(401);
    const replay = await request(app)
      .post('/v1/auth/register')
      .set('Idempotency-Key', key)
      .send({ password: 'wrong' })
      .expect(401);
    expect(replay.body).toEqual({ code: 'invalid-credentials', run: 1 });
    expect(runs()).toBe(1);
  });
});

/**
 * Bad input never reaches a 5xx (CONTRACT.md "General rules"): corrupt or unsupported compressed bodies,
 * positions and cursors outside the range any backend can hold, a declared Content-Length over the limit,
 * and, at the HTTP server of src/main.ts itself, an oversized or unparseable header block and a stalled
 * body.
 */
import net from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { encodeUserCursor } from '../../src/projections/user-directory/queries';
import { createLogger } from '../../src/infrastructure/logger';
import { expectProblem, registerVerified } from '../support/account-flows';
import type { TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { feedReader, startFeedApp, type Caller } from '../support/feed';
import { freshDataDir, ServiceProcess } from '../support/service-process';
import { bearer } from '../support/session-fixtures';

type Raw = { text: string; closed: boolean; ms: number };

/**
 * One raw exchange: writes `request` (and `later`, after `laterMs`), then collects what comes back until
 * the server closes the connection or `waitMs` pass. What a client that stops half-way sees.
 */
const rawExchange = (
  port: number,
  request: string | Buffer,
  options: { waitMs: number; until?: (text: string) => boolean },
): Promise<Raw> =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.waitMs);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish(true);
      else reject(e);
    });
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (options.until?.(text)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.write(request);
  });

const portOf = (url: string): number => Number(new URL(url).port);

const problemOf = (raw: string): { status: number; headers: string; body: Record<string, unknown> } => {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
    headers: head.toLowerCase(),
    body: body ? (JSON.parse(body) as Record<string, unknown>) : {},
  };
};

type LogLine = { level: number; msg: string };

const [embedded] = testBackends();

describe('bad input (embedded store)', () => {
  let t: TestApp;
  let admin: Caller;
  let reader: Caller;
  let logs: LogLine[];

  beforeAll(async () => {
    ({ t, admin } = await startFeedApp(embedded!));
    reader = await feedReader(t, admin, ['events:read']);
    // Every request logs through a child of the service logger (app.ts): capture what they write.
    const capture = createLogger('trace', {
      write: (line: string) => void logs.push(JSON.parse(line) as LogLine),
    });
    jest.spyOn(t.services.logger, 'child').mockImplementation((() => capture) as never);
  });
  afterAll(() => t.close());
  beforeEach(() => {
    logs = [];
  });

  const login = (body: Buffer, headers: Record<string, string>) =>
    fetch(`${t.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const json = Buffer.from(JSON.stringify({ email: 'nobody@example.com', password: 'not the password' }));
  const errorLines = () => logs.filter((l) => l.level >= 50);

  describe('compressed bodies', () => {
    it.each([
      ['gzip', gzipSync(json).subarray(0, 12)],
      ['gzip', Buffer.from('not gzip at all')],
      ['deflate', deflateSync(json).subarray(0, 5)],
      ['deflate', Buffer.from('\x78\x9c garbage')],
      ['br', brotliCompressSync(json).subarray(0, 4)],
      ['br', Buffer.from('\xff\xff\xff\xff garbage')],
    ])('a corrupt %s body is 400 malformed-body, logged below error level', async (encoding, body) => {
      const res = await login(body, { 'content-encoding': encoding });
      await expectProblem(res, 400, 'malformed-body');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(errorLines()).toEqual([]);
      expect(logs.some((l) => l.msg === 'request')).toBe(true);
    });

    it.each(['compress', 'zstd', 'gzip, br', 'x-custom'])(
      'an unsupported Content-Encoding (%s) is 415 unsupported-media-type',
      async (encoding) => {
        await expectProblem(
          await login(json, { 'content-encoding': encoding }),
          415,
          'unsupported-media-type',
        );
        expect(errorLines()).toEqual([]);
      },
    );

    it('a well-formed compressed body is read as usual, and one that inflates past 16 KiB is 413', async () => {
      await expectProblem(
        await login(gzipSync(json), { 'content-encoding': 'gzip' }),
        401,
        'invalid-credentials',
      );
      await expectProblem(
        await login(brotliCompressSync(json), { 'content-encoding': 'br' }),
        401,
        'invalid-credentials',
      );
      const bomb = gzipSync(Buffer.from(`{"email":"${'a'.repeat(1_000_000)}"}`));
      expect(bomb.length).toBeLessThan(16 * 1024);
      await expectProblem(await login(bomb, { 'content-encoding': 'gzip' }), 413, 'payload-too-large');
    });
  });

  describe('JSON that parses but nothing after the parser should have to handle', () => {
    it('a body nested deeper than 32 levels is 400 validation-failed, with or without Idempotency-Key', async () => {
      const deep = (levels: number) => `{"token":"x","extra":${'['.repeat(levels)}${']'.repeat(levels)}}`;
      for (const key of [{}, { 'idempotency-key': 'deep-body' }] as Record<string, string>[]) {
        const res = await fetch(`${t.url}/v1/auth/verify-email`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...key },
          body: deep(8000),
        });
        expect((await expectProblem(res, 400, 'validation-failed')).errors).toEqual([
          { path: '(body)', message: 'must not nest deeper than 32 levels' },
        ]);
      }
      // Within the limit the schema has its say, as before.
      const shallow = await fetch(`${t.url}/v1/auth/verify-email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'shallow-body' },
        body: deep(20),
      });
      await expectProblem(shallow, 400, 'validation-failed');
      expect(errorLines()).toEqual([]);
    });

    it('a string with a lone surrogate is 400 malformed-body: it never reaches an event', async () => {
      const account = await registerVerified(t);
      const res = await fetch(`${t.url}/v1/admin/users/${account.userId}/deactivate`, {
        method: 'POST',
        headers: { ...admin.auth, 'content-type': 'application/json' },
        body: '{"reason":"because \\udfff"}',
      });
      await expectProblem(res, 400, 'malformed-body');
      const login = await fetch(`${t.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":"nobody@example.com","password":"a password \\ud800 of sorts"}',
      });
      await expectProblem(login, 400, 'malformed-body');
      expect(errorLines()).toEqual([]);
      // A surrogate pair is an ordinary character.
      const paired = await fetch(`${t.url}/v1/admin/users/${account.userId}/deactivate`, {
        method: 'POST',
        headers: { ...admin.auth, 'content-type': 'application/json' },
        body: '{"reason":"because \\ud83d\\ude00"}',
      });
      expect(paired.status).toBe(204);
    });
  });

  it('a path whose percent-encoding does not decode is 400 validation-failed, the path not echoed', async () => {
    for (const path of ['/v1/admin/users/%ZZ', '/v1/admin/users/%E0%A4%A/deactivate']) {
      const res = await fetch(`${t.url}${path}`, {
        method: path.endsWith('deactivate') ? 'POST' : 'GET',
        headers: { ...admin.auth, 'content-type': 'application/json' },
        body: path.endsWith('deactivate') ? '{"reason":"test"}' : undefined,
      });
      const body = await expectProblem(res, 400, 'validation-failed');
      expect(body).not.toHaveProperty('errors');
      expect(JSON.stringify({ ...body, instance: undefined })).not.toContain('%');
    }
    expect(errorLines()).toEqual([]);
  });

  describe('a declared Content-Length over the limit', () => {
    it('is 413 at once, before a byte of the body is sent, and the connection is closed', async () => {
      const raw = await rawExchange(
        portOf(t.url),
        'POST /v1/auth/login HTTP/1.1\r\nHost: identity.test\r\nContent-Type: application/json\r\n' +
          'Content-Length: 1000000\r\n\r\n',
        { waitMs: 3000 },
      );
      const answer = problemOf(raw.text);
      expect(answer.status).toBe(413);
      expect(answer.headers).toContain('content-type: application/problem+json');
      expect(answer.body).toMatchObject({ status: 413, code: 'payload-too-large' });
      expect(answer.headers).toContain('connection: close');
      expect(raw.closed).toBe(true);
    });

    it('a body within the limit with an honest Content-Length is read as usual', async () => {
      await expectProblem(
        await login(json, { 'content-length': String(json.length) }),
        401,
        'invalid-credentials',
      );
    });
  });

  describe('positions and cursors outside the range of every backend', () => {
    // Each half of a position is a 64-bit number on the wire; PostgreSQL keeps the second half as a signed
    // bigint, so past 2^63 - 1 it is not a position any store can have written.
    const OUT_OF_RANGE = [
      '0000000000000001-ffffffffffffffff',
      '0000000000000000-8000000000000000',
      '8000000000000000-0000000000000001',
      'ffffffffffffffff-ffffffffffffffff',
    ];
    const LARGEST = '7fffffffffffffff-7fffffffffffffff';

    it.each(OUT_OF_RANGE)('GET /v1/events?after=%s is 400 validation-failed', async (position) => {
      const res = await fetch(`${t.url}/v1/events?after=${position}`, {
        headers: bearer(reader.accessToken),
      });
      const body = await expectProblem(res, 400, 'validation-failed');
      expect(body.errors).toEqual([expect.objectContaining({ path: 'after' })]);
      expect(errorLines()).toEqual([]);
    });

    it('the largest position every backend can hold is accepted as a cursor', async () => {
      const res = await fetch(`${t.url}/v1/events?after=${LARGEST}`, { headers: bearer(reader.accessToken) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ events: [], next_cursor: LARGEST });
    });

    it.each(OUT_OF_RANGE)(
      'GET /v1/events/stream with ?after=%s or Last-Event-ID is 400',
      async (position) => {
        const viaQuery = await fetch(`${t.url}/v1/events/stream?after=${position}`, {
          headers: bearer(reader.accessToken),
        });
        expect((await expectProblem(viaQuery, 400, 'validation-failed')).errors).toEqual([
          expect.objectContaining({ path: 'after' }),
        ]);
        const viaHeader = await fetch(`${t.url}/v1/events/stream`, {
          headers: { ...bearer(reader.accessToken), 'last-event-id': position },
        });
        expect((await expectProblem(viaHeader, 400, 'validation-failed')).errors).toEqual([
          expect.objectContaining({ path: 'Last-Event-ID' }),
        ]);
      },
    );

    it.each(OUT_OF_RANGE)('the admin user view refuses %s as as_of', async (position) => {
      const account = await registerVerified(t);
      const view = await fetch(`${t.url}/v1/admin/users/${account.userId}?as_of=${position}`, {
        headers: admin.auth,
      });
      expect((await expectProblem(view, 400, 'validation-failed')).errors).toEqual([
        expect.objectContaining({ path: 'as_of' }),
      ]);
    });

    it('the admin user list refuses a cursor it never made: a time that rolls over, a non-canonical encoding', async () => {
      const id = '00000000-0000-4000-8000-000000000000';
      const forged = (time: string) => Buffer.from(`${time}|${id}`, 'utf8').toString('base64url');
      for (const cursor of [
        forged('2023-02-30T00:00:00.000Z'),
        forged('2023-01-01T24:00:00.000Z'),
        `${encodeUserCursor({ createdAt: new Date('2020-01-01T00:00:00.000Z'), id })}A`,
      ]) {
        const res = await fetch(`${t.url}/v1/admin/users?cursor=${cursor}`, { headers: admin.auth });
        expect((await expectProblem(res, 400, 'validation-failed')).errors).toEqual([
          expect.objectContaining({ path: 'cursor' }),
        ]);
      }
      const good = encodeUserCursor({ createdAt: new Date('2020-01-01T00:00:00.000Z'), id });
      expect((await fetch(`${t.url}/v1/admin/users?cursor=${good}`, { headers: admin.auth })).status).toBe(
        200,
      );
      expect(errorLines()).toEqual([]);
    });

    it('the admin history takes its largest cursor without a 5xx', async () => {
      const account = await registerVerified(t);
      const cursor = Buffer.from('r999999999999999', 'utf8').toString('base64url');
      const res = await fetch(`${t.url}/v1/admin/users/${account.userId}/events?cursor=${cursor}`, {
        headers: admin.auth,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ events: [], next_cursor: null });
    });
  });
});

/**
 * What only the real server in src/main.ts decides: the header block (Node's parser answers before any
 * route runs) and the request timeouts.
 */
describe('the HTTP server of src/main.ts', () => {
  let svc: ServiceProcess;
  beforeAll(async () => {
    svc = new ServiceProcess({ dataDir: await freshDataDir(), env: { REQUEST_TIMEOUT_SECONDS: '1' } });
    await svc.start();
  }, 90_000);
  afterAll(() => svc.dispose());

  const expectSecurityHeaders = (headers: string) => {
    expect(headers).toContain('x-content-type-options: nosniff');
    expect(headers).toContain("content-security-policy: default-src 'none'; frame-ancestors 'none'");
    expect(headers).toContain('referrer-policy: no-referrer');
    expect(headers).not.toContain('x-powered-by');
  };

  it('answers an oversized header block with a 431 problem and the security headers', async () => {
    const raw = await rawExchange(
      portOf(svc.url),
      `GET /health/live HTTP/1.1\r\nHost: identity.test\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`,
      { waitMs: 3000 },
    );
    const answer = problemOf(raw.text);
    expect(answer.status).toBe(431);
    expect(answer.headers).toContain('content-type: application/problem+json');
    expect(answer.headers).toContain('connection: close');
    expect(answer.body).toMatchObject({ status: 431, code: 'validation-failed' });
    expectSecurityHeaders(answer.headers);
    expect(raw.closed).toBe(true);
  });

  it('answers an oversized HEAD with the 431 head alone: a body would read as the next response', async () => {
    const raw = await rawExchange(
      portOf(svc.url),
      `HEAD /health/live?pad=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: identity.test\r\n\r\n`,
      { waitMs: 3000 },
    );
    const [head, body] = raw.text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head!.toLowerCase()).toContain('content-type: application/problem+json');
    expect(body).toBe('');
    expect(raw.closed).toBe(true);
  });

  it('answers a header block it cannot parse with a 400 problem', async () => {
    const raw = await rawExchange(
      portOf(svc.url),
      'GET /health/live HTTP/1.1\r\nHost identity.test\r\n\r\n',
      {
        waitMs: 3000,
      },
    );
    const answer = problemOf(raw.text);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 400, code: 'malformed-body' });
    expectSecurityHeaders(answer.headers);
    expect(raw.closed).toBe(true);
  });

  it('answers an HTTP/1.1 request without Host with a 400 problem, and ignores an unknown Expect', async () => {
    const hostless = await rawExchange(portOf(svc.url), 'GET /health/live HTTP/1.1\r\n\r\n', {
      waitMs: 3000,
      until: (text) => text.includes('}'),
    });
    const answer = problemOf(hostless.text);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 400, code: 'validation-failed' });
    expectSecurityHeaders(answer.headers);
    const expecting = await rawExchange(
      portOf(svc.url),
      'GET /health/live HTTP/1.1\r\nHost: identity.test\r\nExpect: a-miracle\r\nConnection: close\r\n\r\n',
      { waitMs: 3000 },
    );
    expect(expecting.text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('closes a connection whose body stalls, within the request timeout', async () => {
    const raw = await rawExchange(
      portOf(svc.url),
      'POST /v1/auth/login HTTP/1.1\r\nHost: identity.test\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100\r\n\r\n{"email":',
      { waitMs: 8000 },
    );
    expect(raw.closed).toBe(true);
    expect(raw.ms).toBeLessThan(4000);
  });

  it('still serves after all of that', async () => {
    const answer = await svc.call('GET', '/health/live');
    expect(answer).toMatchObject({ kind: 'answer', status: 200 });
  });
});

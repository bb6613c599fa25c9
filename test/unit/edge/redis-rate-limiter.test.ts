import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { RedisRateLimiter } from '../../../src/infrastructure/rate-limiters';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// Decided before the suite is collected, so an absent Redis shows as skipped tests, not as passes.
const redisReachable = (): boolean => {
  const { hostname, port } = new URL(REDIS_URL);
  const probe = `const s=require('node:net').connect(${Number(port || 6379)},${JSON.stringify(hostname)},()=>{s.end();process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000);`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
};

const reachable = redisReachable();
if (!reachable && process.env.CI === 'true') {
  throw new Error(`Redis is not reachable at ${REDIS_URL}; CI requires it`);
}
const describeWithRedis = reachable ? describe : describe.skip;

const silent = { warn: () => undefined };

describeWithRedis('RedisRateLimiter against Redis', () => {
  const clients: Redis[] = [];
  const prefix = `test:rate:${randomUUID()}:`;
  const limiter = () => {
    const client = new Redis(REDIS_URL, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    clients.push(client);
    return { client, limiter: new RedisRateLimiter(client, { logger: silent, prefix, timeoutMs: 2000 }) };
  };

  afterAll(async () => {
    const [client] = clients;
    if (client) {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length) await client.del(...keys);
    }
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('allows up to the capacity, then refuses with Retry-After', async () => {
    const { limiter: l } = limiter();
    const rule = { capacity: 3, refillPerMinute: 60 };
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await l.take('login', 'cap', rule));
    expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false]);
    expect(answers.map((a) => a.remaining)).toEqual([2, 1, 0, 0]);
    expect(answers[3]?.retryAfterSeconds).toBe(1);
  });

  it('shares one budget between instances', async () => {
    const a = limiter().limiter;
    const b = limiter().limiter;
    const rule = { capacity: 2, refillPerMinute: 1 };
    expect((await a.take('login', 'shared', rule)).allowed).toBe(true);
    expect((await b.take('login', 'shared', rule)).allowed).toBe(true);
    const refused = await a.take('login', 'shared', rule);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBeGreaterThan(55);
  });

  it('takes atomically under concurrency', async () => {
    const { limiter: l } = limiter();
    const rule = { capacity: 5, refillPerMinute: 1 };
    const answers = await Promise.all(Array.from({ length: 25 }, () => l.take('register', 'burst', rule)));
    expect(answers.filter((a) => a.allowed)).toHaveLength(5);
  });

  it('refills over time and lets the key expire once it would be full', async () => {
    const { client, limiter: l } = limiter();
    const rule = { capacity: 1, refillPerMinute: 600 }; // a token every 100 ms
    expect((await l.take('refresh', 'refill', rule)).allowed).toBe(true);
    expect((await l.take('refresh', 'refill', rule)).allowed).toBe(false);
    const ttl = await client.pttl(`${prefix}refresh:refill`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, 250));
    expect((await l.take('refresh', 'refill', rule)).allowed).toBe(true);
  });
});

describe('RedisRateLimiter when Redis is down', () => {
  let blackhole: Server;
  let port: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers: the slow failure, worse than a refused connection.
    blackhole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    port = (blackhole.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => blackhole.close(() => resolve()));
  });

  it('fails open and warns at most once a minute', async () => {
    const warn = jest.fn();
    let now = 0;
    const client = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const l = new RedisRateLimiter(client, { logger: { warn }, timeoutMs: 100, now: () => now });
    const rule = { capacity: 1, refillPerMinute: 1 };
    const started = Date.now();
    const first = await l.take('login', 'k', rule);
    const second = await l.take('login', 'k', rule);
    expect(Date.now() - started).toBeLessThan(1500);
    expect([first.allowed, second.allowed]).toEqual([true, true]);
    expect(warn).toHaveBeenCalledTimes(1);
    now += 61_000;
    await l.take('login', 'k', rule);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(JSON.stringify(warn.mock.calls)).not.toMatch(/token/i);
    client.disconnect();
  });

  it('fails open at once when the connection is refused', async () => {
    const warn = jest.fn();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new Redis(closedPort, '127.0.0.1', {
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const l = new RedisRateLimiter(client, { logger: { warn }, timeoutMs: 1000 });
    const answer = await l.take('login', 'k', { capacity: 1, refillPerMinute: 1 });
    expect(answer.allowed).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
    client.disconnect();
  });
});

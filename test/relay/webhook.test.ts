import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { runRelayReplay, runRelayStatus } from '../../src/cli/relay';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { JOURNEY_SEED_TOPICS, journey, makeAdmin, relayConfigFile, waitUntil } from '../support/relay';

type Delivery = {
  id: string;
  topic: string;
  body: { id: string; type: string; stream: string; position: string };
};

/** A receiver that checks every signature, answers 503 to the first `failFirst` attempts, then 204. */
const receiver = async (
  secret: string,
  options: { failFirst?: number; refuse?: (type: string) => boolean },
) => {
  const verifier = new Webhook(secret);
  const accepted: Delivery[] = [];
  const state = { attempts: 0, badSignatures: 0, refuse: options.refuse };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.attempts += 1;
      const payload = Buffer.concat(chunks).toString('utf8');
      try {
        verifier.verify(payload, req.headers as Record<string, string>);
      } catch {
        state.badSignatures += 1;
        res.writeHead(400).end();
        return;
      }
      const body = JSON.parse(payload) as Delivery['body'];
      if (state.attempts <= (options.failFirst ?? 0) || state.refuse?.(body.type)) {
        res.writeHead(503).end();
        return;
      }
      accepted.push({
        id: String(req.headers['webhook-id']),
        topic: String(req.headers['x-identity-topic']),
        body,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    accepted,
    state,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
};

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const lines = () => {
  const out: string[] = [];
  return { out, io: { out: (l: string) => out.push(l), err: (l: string) => out.push(l) } };
};

for (const backend of testBackends()) {
  describe(`relay to webhooks (${backend.name})`, () => {
    it('signs per Standard Webhooks, retries after failures, then delivers the journey in order', async () => {
      const secret = newSecret();
      const hook = await receiver(secret, { failFirst: 3 });
      const t: TestApp = await startTestApp(backend, {
        env: {
          RELAY_CONFIG: relayConfigFile([
            { name: 'hook', type: 'webhook', url: hook.url, secret, from: 'start' },
          ]),
        },
      });
      try {
        const admin = await makeAdmin(t);
        const userId = await journey(t, admin);
        const stream = `user-${userId}`;
        await waitUntil(
          'the deactivation',
          () => hook.accepted.some((d) => d.body.stream === stream && d.topic === 'user_deactivated'),
          60_000,
        );
        expect(hook.state.badSignatures).toBe(0);
        expect(hook.state.attempts).toBeGreaterThan(hook.accepted.length);
        const mine = hook.accepted.filter((d) => d.body.stream === stream || d.topic === 'user_logged_in');
        const topics = mine.map((d) => d.topic).filter((k) => JOURNEY_SEED_TOPICS.includes(k));
        expect(topics.slice(-JOURNEY_SEED_TOPICS.length).filter((k) => k !== 'user_logged_in')).toEqual(
          JOURNEY_SEED_TOPICS.filter((k) => k !== 'user_logged_in'),
        );
        for (const d of hook.accepted) expect(d.id).toBe(d.body.id);
        const positions = hook.accepted.map((d) => d.body.position);
        expect([...new Set(positions)].sort()).toEqual([...new Set(positions)]);
      } finally {
        await t.close();
        await hook.close();
      }
    }, 120_000);

    it('parks a delivery still failing after max_age, goes on, and replays it from the CLI', async () => {
      const secret = newSecret();
      let refuse = true;
      const hook = await receiver(secret, { refuse: (type) => refuse && type === 'UserDeactivated' });
      const t = await startTestApp(backend, {
        env: {
          RELAY_CONFIG: relayConfigFile([
            { name: 'parking', type: 'webhook', url: hook.url, secret, from: 'start', max_age: '1s' },
          ]),
        },
      });
      try {
        const user = randomUUID();
        const append = (type: string, data: unknown) =>
          t.services.store.appendToStream(`user-${user}`, [
            { type, data, metadata: { correlation_id: randomUUID(), schema_version: 1 } },
          ]);
        await append('UserProfileUpdated', { username: 'first' });
        await append('UserDeactivated', { at: new Date().toISOString() });
        await append('UserProfileUpdated', { username: 'after' });
        // Each event once, as the receiver dedupes by webhook-id (a retried batch repeats what went through).
        const mine = () => {
          const seen = new Set<string>();
          return hook.accepted.filter(
            (d) => d.body.stream === `user-${user}` && !seen.has(d.id) && seen.add(d.id),
          );
        };
        await waitUntil('the event after the parked one', () => mine().length === 2, 60_000);
        expect(mine().map((d) => d.body.type)).toEqual(['UserProfileUpdated', 'UserProfileUpdated']);
        const status = lines();
        await runRelayStatus(t.services, status.io);
        expect(status.out.join('\n')).toMatch(/parking \(webhook\).*parked 1/);
        expect(status.out.join('\n')).toMatch(/parked UserDeactivated/);
        const metrics = await (await fetch(`${t.url}/metrics`)).text();
        expect(metrics).toMatch(/identity_relay_parked\{target="parking"\} 1/);
        refuse = false;
        const replay = lines();
        expect(await runRelayReplay(t.services, ['parking'], replay.io)).toBe(0);
        expect(replay.out.join('\n')).toMatch(/1 delivered/);
        expect(mine().map((d) => d.body.type)).toEqual([
          'UserProfileUpdated',
          'UserProfileUpdated',
          'UserDeactivated',
        ]);
        const again = lines();
        await runRelayStatus(t.services, again.io);
        expect(again.out.join('\n')).toMatch(/parked 0/);
      } finally {
        await t.close();
        await hook.close();
      }
    }, 120_000);
  });
}

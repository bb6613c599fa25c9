import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startTestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  JOURNEY_SEED_TOPICS,
  journey,
  makeAdmin,
  NATS_URL,
  relayConfigFile,
  uniqueName,
} from '../support/relay';

const server = (): string => {
  const u = new URL(NATS_URL);
  return `${u.hostname}:${u.port || 4222}`;
};

const natsUp = async (): Promise<boolean> => {
  try {
    const nc = await connect({ servers: server(), reconnect: false, timeout: 2000 });
    await jetstreamManager(nc);
    await nc.close();
    return true;
  } catch {
    return false;
  }
};

type Got = {
  subject: string;
  msgId: string;
  headers: Record<string, string>;
  body: { id: string; type: string };
};

for (const backend of testBackends()) {
  it(`relays the account journey to NATS JetStream, creating the stream (${backend.name})`, async () => {
    if (!(await natsUp())) {
      if (process.env.CI === 'true') throw new Error(`NATS JetStream is not reachable at ${NATS_URL}`);
      return console.warn('NATS not reachable: skipped');
    }
    const name = uniqueName('ID_TEST').replace(/-/g, '_').toUpperCase();
    const prefix = name.toLowerCase();
    const t = await startTestApp(backend, {
      env: {
        RELAY_CONFIG: relayConfigFile([
          { name: 'nats', type: 'nats', url: NATS_URL, stream: name, subject_prefix: prefix, from: 'start' },
        ]),
      },
    });
    const nc = await connect({ servers: server() });
    try {
      const admin = await makeAdmin(t);
      const userId = await journey(t, admin);
      const jsm = await jetstreamManager(nc);
      const got: Got[] = [];
      const js = jetstream(nc);
      for (let i = 0; i < 200; i++) {
        if (
          await jsm.streams.info(name).then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const consumer = await js.consumers.get(name);
      const deadline = Date.now() + 30_000;
      while (!got.some((g) => g.headers.user_id === userId && g.subject.endsWith('.user_deactivated'))) {
        if (Date.now() > deadline) throw new Error('the deactivation did not arrive');
        const m = await consumer.next({ expires: 1000 });
        if (!m) continue;
        const headers: Record<string, string> = {};
        for (const k of m.headers?.keys() ?? []) headers[k] = m.headers!.get(k);
        got.push({
          subject: m.subject,
          msgId: m.headers?.get('Nats-Msg-Id') ?? '',
          headers,
          body: m.json(),
        });
      }
      const mine = got.filter((g) => g.headers.user_id === userId);
      const topics = mine.map((g) => g.subject.slice(prefix.length + 1));
      expect(topics.filter((k) => JOURNEY_SEED_TOPICS.includes(k))).toEqual(JOURNEY_SEED_TOPICS);
      for (const g of mine) {
        expect(g.subject.startsWith(`${prefix}.`)).toBe(true);
        expect(g.msgId).toBe(g.body.id);
        expect(g.headers.type).toBe(g.body.type);
      }
      // Every event once in the stream: the relay's at-least-once meets the server's Nats-Msg-Id dedupe.
      expect(new Set(got.map((g) => g.msgId)).size).toBe(got.length);
      await jsm.streams.delete(name);
    } finally {
      await nc.close();
      await t.close();
    }
  }, 120_000);
}

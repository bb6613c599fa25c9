/**
 * The welcome service (examples/welcome-service) fed by NATS JetStream: a durable consumer on the relay's
 * stream, filtered to the subjects it acts on, acknowledging each message after the table was written
 * (explicit acks: an unacknowledged message is redelivered; the store applies each stream revision once).
 * Replicas binding the same durable share the work.
 *
 *   RELAY_CONFIG: {"targets": [{"name": "nats", "type": "nats", "url": "nats://...", "stream": "IDENTITY", "subject_prefix": "identity"}]}
 *   NATS_URL=nats://127.0.0.1:4222 npx tsx examples/broker-consumers/jetstream-welcome.ts
 */
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { parseAccountEvent } from '../../packages/subscriber/src';
import { WelcomeStore } from '../welcome-service/src/welcome-store';
import { WELCOME_TOPICS } from './rabbitmq-welcome';

export const runJetStreamWelcome = async (options: {
  servers: string;
  stream: string;
  prefix: string;
  durable: string;
  dataDir: string;
  signal: AbortSignal;
}): Promise<WelcomeStore> => {
  const store = await WelcomeStore.open(options.dataDir);
  const nc = await connect({ servers: options.servers });
  const jsm = await jetstreamManager(nc);
  // The relay creates the stream on its first publish: wait for it, then create the durable (or find it).
  for (;;) {
    const made = await jsm.consumers
      .add(options.stream, {
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        filter_subjects: WELCOME_TOPICS.map((t) => `${options.prefix}.${t}`),
      })
      .then(
        () => true,
        () =>
          jsm.consumers.info(options.stream, options.durable).then(
            () => true,
            () => false,
          ),
      );
    if (made || options.signal.aborted) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const consumer = await jetstream(nc).consumers.get(options.stream, options.durable);
  const messages = await consumer.consume({ max_messages: 1 });
  options.signal.addEventListener('abort', () => void messages.stop(), { once: true });
  void (async () => {
    for await (const m of messages) {
      try {
        const event = parseAccountEvent(m.json());
        if (event) await store.apply(event);
        m.ack();
      } catch {
        m.nak(1000);
      }
    }
    await nc.close();
  })();
  return store;
};

if (require.main === module) {
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  process.once('SIGINT', () => controller.abort());
  void runJetStreamWelcome({
    servers: (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').replace(/^nats:\/\//, ''),
    stream: process.env.NATS_STREAM ?? 'IDENTITY',
    prefix: process.env.NATS_SUBJECT_PREFIX ?? 'identity',
    durable: process.env.NATS_DURABLE ?? 'welcome-service',
    dataDir: process.env.WELCOME_DATA_DIR ?? './data/welcome-jetstream',
    signal: controller.signal,
  });
}

/**
 * The welcome service (examples/welcome-service) fed by RabbitMQ instead of the HTTP feed: a durable queue
 * bound to the relay's exchange for the topics it acts on. Two replicas consuming the same queue share the
 * work (a consumer group); a redelivered message changes nothing (the store applies each stream revision
 * once). Acknowledged only after the table was written.
 *
 *   RELAY_CONFIG: {"targets": [{"name": "rabbit", "type": "rabbitmq", "url": "amqp://...", "exchange": "identity.events"}]}
 *   RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672 npx tsx examples/broker-consumers/rabbitmq-welcome.ts
 */
import amqp from 'amqplib';
import { parseAccountEvent } from '../../packages/subscriber/src';
import { WelcomeStore } from '../welcome-service/src/welcome-store';

/** `topics: seed` names of the welcome service's event types (GET /v1/events/schema, `topics`). */
export const WELCOME_TOPICS = [
  'user_registered',
  'pending_registration_replaced',
  'email_verified',
  'user_updated',
  'user_erased',
];

export const runRabbitWelcome = async (options: {
  url: string;
  exchange: string;
  queue: string;
  dataDir: string;
  signal: AbortSignal;
}): Promise<WelcomeStore> => {
  const store = await WelcomeStore.open(options.dataDir);
  const connection = await amqp.connect(options.url);
  const channel = await connection.createChannel();
  await channel.assertExchange(options.exchange, 'topic', { durable: true });
  await channel.assertQueue(options.queue, { durable: true });
  for (const topic of WELCOME_TOPICS) await channel.bindQueue(options.queue, options.exchange, topic);
  // One at a time keeps one account's events in order on this consumer.
  await channel.prefetch(1);
  await channel.consume(options.queue, (message) => {
    if (!message) return;
    const event = parseAccountEvent(JSON.parse(message.content.toString('utf8')));
    (event ? store.apply(event) : Promise.resolve(false)).then(
      () => channel.ack(message),
      () => channel.nack(message, false, true),
    );
  });
  options.signal.addEventListener('abort', () => void connection.close().catch(() => undefined), {
    once: true,
  });
  return store;
};

if (require.main === module) {
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  process.once('SIGINT', () => controller.abort());
  void runRabbitWelcome({
    url: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    exchange: process.env.RABBITMQ_EXCHANGE ?? 'identity.events',
    queue: process.env.RABBITMQ_QUEUE ?? 'welcome-service',
    dataDir: process.env.WELCOME_DATA_DIR ?? './data/welcome-rabbitmq',
    signal: controller.signal,
  });
}

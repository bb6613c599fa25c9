import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { KafkaTarget } from '../../consumers/relay/config';
import type { RelayMessage, RelayTransport } from '../../consumers/relay/transport';

/**
 * Kafka with kafkajs: an idempotent producer (`idempotent: true`, one request in flight, so the broker
 * drops a retried batch it already wrote), `acks=all` (-1), key = stream id so one account's events stay in
 * one partition, in order. Topic = `<topic_prefix><topic>`. The relay's headers go as record headers,
 * `message_id` (the event id) among them. A batch resolves when every partition leader answered with all
 * in-sync replicas written. Tested against the wire-protocol test double only (test/support/kafka-fake/):
 * it has not met a real broker (README).
 */
export class KafkaTransport implements RelayTransport {
  private producer: Promise<Producer> | null = null;
  connected = false;

  constructor(private readonly target: KafkaTarget) {}

  private open(): Promise<Producer> {
    this.producer ??= (async () => {
      const kafka = new Kafka({
        clientId: this.target.client_id,
        brokers: this.target.brokers,
        logLevel: logLevel.NOTHING,
        connectionTimeout: 10_000,
        requestTimeout: 30_000,
        // The relay's runner retries from its checkpoint with backoff; the client's own retries stay short.
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      producer.on(producer.events.DISCONNECT, () => {
        this.connected = false;
      });
      this.connected = true;
      return producer;
    })();
    this.producer.catch(() => {
      this.producer = null;
      this.connected = false;
    });
    return this.producer;
  }

  async publish(messages: readonly RelayMessage[], _signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.open();
    const byTopic = new Map<string, RelayMessage[]>();
    for (const m of messages) {
      const topic = `${this.target.topic_prefix}${m.topic}`;
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), m]);
    }
    try {
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((m) => ({
            key: m.key,
            value: m.body,
            headers: { ...m.headers, message_id: m.id },
            timestamp: String(m.occurredAt.getTime()),
          })),
        })),
      });
    } catch (e) {
      this.connected = false;
      const p = this.producer;
      this.producer = null;
      await (await p?.catch(() => null))?.disconnect().catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const p = await this.producer?.catch(() => null);
    this.producer = null;
    this.connected = false;
    if (p) await p.disconnect().catch(() => undefined);
  }
}

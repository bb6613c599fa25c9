/**
 * What the relay hands a transport (src/infrastructure/relay/): messages already named, shaped and
 * redacted. A transport only transports: `publish` resolves once the target confirmed every message (a
 * broker's publisher confirm, a JetStream ack, a Kafka acks=all answer, a webhook's 2xx) and throws
 * otherwise; after a throw it drops its connection, and the next `publish` connects again. The relay's
 * runner retries with backoff and jitter from the stored checkpoint.
 */
export type RelayMessage = {
  /** The event id: AMQP message_id, Nats-Msg-Id, webhook-id; brokers or consumers drop duplicates by it. */
  id: string;
  topic: string;
  /** The stream id: Kafka's key, so one account's events stay in one partition, in order. */
  key: string;
  /** type, stream, position, schema_version, correlation_id (when known), user_id (when known). */
  headers: Record<string, string>;
  /** The feed's event JSON (application/events/present.ts), UTF-8. */
  body: Buffer;
  /** When the event was recorded (webhook-timestamp is the attempt's time, not this). */
  occurredAt: Date;
};

export interface RelayTransport {
  publish(messages: readonly RelayMessage[], signal: AbortSignal): Promise<void>;
  /** Whether the last attempt reached the target (for status; not a probe). */
  readonly connected: boolean;
  close(): Promise<void>;
}

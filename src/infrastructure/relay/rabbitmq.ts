import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { RabbitTarget } from '../../consumers/relay/config';
import type { RelayMessage, RelayTransport } from '../../consumers/relay/transport';

const CONNECT_TIMEOUT_MS = 10_000;
const CONFIRM_TIMEOUT_MS = 30_000;

type Link = { connection: ChannelModel; channel: ConfirmChannel; lost: Promise<never> };

/**
 * RabbitMQ (AMQP 0-9-1) with amqplib: a durable topic exchange declared if absent, persistent messages,
 * publisher confirms. Routing key = topic, `message_id` = event id, `type` = event type, headers as the
 * relay gives them. A batch is published, then `waitForConfirms`: it resolves once the broker has taken
 * responsibility for every message (written to disk for durable queues), or rejects on a nack or a lost
 * connection, after which the link is dropped and the next publish connects again.
 */
export class RabbitMqTransport implements RelayTransport {
  private link: Promise<Link> | null = null;
  connected = false;

  constructor(private readonly target: RabbitTarget) {}

  private open(): Promise<Link> {
    this.link ??= (async () => {
      const connection = await amqp.connect(this.target.url, { timeout: CONNECT_TIMEOUT_MS });
      let fail: (e: Error) => void = () => undefined;
      const lost = new Promise<never>((_, reject) => {
        fail = reject;
      });
      lost.catch(() => undefined);
      const drop = (e?: Error) => {
        this.connected = false;
        this.link = null;
        fail(e ?? new Error('RabbitMQ connection closed'));
      };
      connection.on('error', drop);
      connection.on('close', drop);
      try {
        const channel = await connection.createConfirmChannel();
        channel.on('error', drop);
        channel.on('close', () => drop(new Error('RabbitMQ channel closed')));
        await channel.assertExchange(this.target.exchange, 'topic', { durable: true });
        this.connected = true;
        return { connection, channel, lost };
      } catch (e) {
        await connection.close().catch(() => undefined);
        throw e;
      }
    })();
    this.link.catch(() => {
      this.link = null;
      this.connected = false;
    });
    return this.link;
  }

  async publish(messages: readonly RelayMessage[], _signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    const link = await this.open();
    let timer: NodeJS.Timeout | undefined;
    try {
      const confirms = messages.map(
        (m) =>
          new Promise<void>((resolve, reject) => {
            link.channel.publish(
              this.target.exchange,
              m.topic,
              m.body,
              {
                persistent: true,
                messageId: m.id,
                type: m.headers.type,
                contentType: 'application/json',
                contentEncoding: 'utf-8',
                correlationId: m.headers.correlation_id,
                timestamp: Math.floor(m.occurredAt.getTime() / 1000),
                appId: 'identity',
                headers: m.headers,
              },
              (err: unknown) =>
                err ? reject(err instanceof Error ? err : new Error('message nacked')) : resolve(),
            );
          }),
      );
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('RabbitMQ confirms timed out')), CONFIRM_TIMEOUT_MS);
      });
      await Promise.race([Promise.all(confirms), link.lost, timeout]);
    } catch (e) {
      await this.reset(link);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async reset(link: Link): Promise<void> {
    this.connected = false;
    if (this.link) this.link = null;
    await link.connection.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const link = await this.link?.catch(() => null);
    this.link = null;
    this.connected = false;
    if (link) await link.connection.close().catch(() => undefined);
  }
}

import * as natsNode from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsTarget } from '../../consumers/relay/config';
import type { RelayMessage, RelayTransport } from '../../consumers/relay/transport';

// The client's types re-export its core through a subpath export that this project's module resolution
// (node10) does not follow; these two are taken by their runtime shape.
type NatsConnection = Awaited<ReturnType<typeof natsNode.connect>>;
const { connect } = natsNode;
type Headers = NonNullable<NonNullable<Parameters<JetStreamClient['publish']>[2]>['headers']>;
const natsHeaders = (natsNode as unknown as { headers: () => Headers }).headers;

const CONNECT_TIMEOUT_MS = 10_000;
const ACK_TIMEOUT_MS = 30_000;

type Link = { nc: NatsConnection; js: JetStreamClient };

/**
 * NATS JetStream with the official client: subject `<subject_prefix>.<topic>`, `Nats-Msg-Id` = event id (the
 * server drops a duplicate within the stream's duplicate window), the relay's headers as NATS headers. With
 * `stream` configured, the stream over `<prefix>.>` is created when it does not exist. A batch is published
 * on one connection (in order) and resolves when JetStream acknowledged every message as stored. The
 * client's own reconnect is off: a lost connection fails the batch and the relay's runner reconnects with
 * backoff from its checkpoint, like every other transport.
 */
export class NatsTransport implements RelayTransport {
  private link: Promise<Link> | null = null;
  connected = false;

  constructor(private readonly target: NatsTarget) {}

  private open(): Promise<Link> {
    this.link ??= (async () => {
      const u = new URL(this.target.url);
      const nc = await connect({
        servers: `${u.hostname}:${u.port || 4222}`,
        ...(u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {}),
        ...(u.protocol === 'tls:' ? { tls: {} } : {}),
        name: `identity-relay-${this.target.name}`,
        reconnect: false,
        timeout: CONNECT_TIMEOUT_MS,
      });
      void nc.closed().then(() => {
        this.connected = false;
        this.link = null;
      });
      try {
        if (this.target.stream) await this.ensureStream(nc, this.target.stream);
        this.connected = true;
        return { nc, js: jetstream(nc, { timeout: ACK_TIMEOUT_MS }) };
      } catch (e) {
        await nc.close().catch(() => undefined);
        throw e;
      }
    })();
    this.link.catch(() => {
      this.link = null;
      this.connected = false;
    });
    return this.link;
  }

  private async ensureStream(nc: NatsConnection, name: string): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const subjects = [`${this.target.subject_prefix}.>`];
    try {
      await jsm.streams.info(name);
    } catch {
      await jsm.streams.add({ name, subjects });
    }
  }

  async publish(messages: readonly RelayMessage[], _signal: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    const link = await this.open();
    try {
      await Promise.all(
        messages.map((m) => {
          const h = natsHeaders();
          for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
          return link.js.publish(`${this.target.subject_prefix}.${m.topic}`, m.body, {
            msgID: m.id,
            headers: h,
            ...(this.target.stream ? { expect: { streamName: this.target.stream } } : {}),
          });
        }),
      );
    } catch (e) {
      this.connected = false;
      this.link = null;
      await link.nc.close().catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const link = await this.link?.catch(() => null);
    this.link = null;
    this.connected = false;
    if (link) await link.nc.drain().catch(() => link.nc.close());
  }
}

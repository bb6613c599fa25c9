import { backoffDelay } from '../../application/backoff';
import pg from 'pg';
import type { SqlClientLogger } from './pg-client';

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The one LISTEN connection of a PgSqlClient, shared by every channel. A lost connection is replaced with
 * a doubling, jittered delay; notifications sent while it was away are gone, so on its return every
 * subscriber is woken to look for itself.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly clientConfig: pg.ClientConfig,
    private readonly logger: SqlClientLogger | undefined,
  ) {}

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('LISTEN connection closed');
    let subscribers = this.channels.get(channel);
    const first = !subscribers;
    if (!subscribers) {
      subscribers = new Set();
      this.channels.set(channel, subscribers);
    }
    subscribers.add(onNotify);
    const stop = async (): Promise<void> => {
      const current = this.channels.get(channel);
      if (!current?.delete(onNotify) || current.size > 0) return;
      this.channels.delete(channel);
      await this.client?.query(`unlisten ${quoteIdent(channel)}`).catch(() => undefined);
    };
    try {
      const client = await this.connect();
      if (first) await client.query(`listen ${quoteIdent(channel)}`);
    } catch (e) {
      await stop();
      throw e;
    }
    return stop;
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const attempt = (async () => {
      const client = new pg.Client(this.clientConfig);
      client.on('notification', (n) => {
        for (const notify of this.channels.get(n.channel) ?? []) {
          try {
            notify(n.payload ?? '');
          } catch (e) {
            this.logger?.warn({ err: (e as Error).message }, 'notification handler failed');
          }
        }
      });
      let dropped = false;
      const lost = (e?: Error) => {
        if (dropped) return;
        dropped = true;
        if (this.client === client) this.client = null;
        client.end().catch(() => undefined);
        if (this.closed) return;
        this.logger?.warn({ err: e?.message }, 'LISTEN connection lost; reconnecting');
        this.scheduleReconnect();
      };
      // Listeners before connect: an 'error' may come at any moment of the connection's life.
      client.on('error', lost);
      client.on('end', () => lost());
      try {
        await client.connect();
        for (const name of this.channels.keys()) await client.query(`listen ${quoteIdent(name)}`);
      } catch (e) {
        // Not handed out: whoever asked sees the failure (listen() rejects, a reconnect retries).
        dropped = true;
        client.end().catch(() => undefined);
        throw e;
      }
      return client;
    })();
    this.connecting = attempt;
    return attempt.then(
      (client) => {
        this.connecting = null;
        this.client = client;
        this.reconnectAttempt = 0;
        return client;
      },
      (e) => {
        this.connecting = null;
        throw e;
      },
    );
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.channels.size === 0) return;
    const delay = backoffDelay(this.reconnectAttempt + 1, { minMs: 100, maxMs: 5_000 });
    this.reconnectAttempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed || this.channels.size === 0) return;
      this.connect().then(
        () => {
          // Notifications sent while we were away are gone: wake every subscriber to look for itself.
          for (const subscribers of this.channels.values())
            for (const notify of subscribers) {
              try {
                notify('');
              } catch (e) {
                this.logger?.warn({ err: (e as Error).message }, 'notification handler failed');
              }
            }
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.channels.clear();
    const client = this.client ?? (await this.connecting?.catch(() => null));
    await client?.end().catch(() => undefined);
  }
}

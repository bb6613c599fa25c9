import pg from 'pg';
import { StoreUnavailableError } from '../../application/event-store';
import type { SqlClient, SqlExecutor, SqlResult } from '../../application/sql';
import { PgListener } from './pg-listener';

export type SqlClientLogger = { warn: (obj: object, msg: string) => void };

export type PgSqlClientOptions = {
  connectionString: string;
  /** Connections for queries and transactions; LISTEN and locks have one dedicated connection each. */
  max?: number;
  /**
   * The server ends a session left idle inside a transaction after this long. The subscription horizon is
   * cluster-wide, so one forgotten transaction would otherwise hold back every subscriber (FACTS.md).
   */
  idleInTransactionTimeoutMs?: number;
  connectTimeoutMs?: number;
  applicationName?: string;
  logger?: SqlClientLogger;
};

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /not queryable/i,
  /cannot use a pool after calling end/i,
  /client was closed/i,
  /connection (?:is )?closed/i,
];

// Duck-typed rather than `instanceof Error`: socket errors are created by Node's core, which in a
// sandboxed test runner is another realm.
type ErrorLike = { code?: unknown; message?: unknown; name?: unknown; errors?: unknown };

export const isConnectionFailure = (e: unknown): boolean => {
  if (e instanceof StoreUnavailableError) return true;
  if (typeof e !== 'object' || e === null) return false;
  const { code, message, errors } = e as ErrorLike;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  // Node reports a refused dual-stack connect as an AggregateError of the per-address errors.
  if (Array.isArray(errors) && errors.some(isConnectionFailure)) return true;
  return typeof message === 'string' && CONNECTION_MESSAGES.some((m) => m.test(message));
};

const toStoreError = (e: unknown): unknown => {
  if (e instanceof StoreUnavailableError || !isConnectionFailure(e)) return e;
  const { message, name, code } = e as ErrorLike;
  return new StoreUnavailableError(`PostgreSQL unavailable: ${String(message || code || name)}`, {
    cause: e,
  });
};

const result = <R>(r: pg.QueryResult | pg.QueryResult[]): SqlResult<R> => {
  // A multi-statement text answers one result per statement; callers see the last, as with PGlite.
  const last = Array.isArray(r) ? r[r.length - 1] : r;
  return { rows: (last?.rows ?? []) as R[], rowCount: last?.rowCount ?? 0 };
};

/**
 * A pg.Client that has an 'error' listener from its construction to its end. pg emits 'error' on a client
 * whenever its connection dies outside a query's own callback: a reset or closed socket, or the server's
 * FATAL (`pg_terminate_backend`, a restart) arriving between queries, both while idle and in the middle of
 * one (client.js `_handleErrorEvent`). pg-pool listens only while a client sits idle: it removes its idle
 * listener on checkout, adds it only once `connect` has called back (an MD5 or password-callback failure
 * emits before), and `pool.query` adds one for its own query alone. A connection lost while checked out
 * (inside `transaction`) found no listener, and Node ends the process on an unhandled 'error'. The error itself needs no handling here: the query in flight fails with it, later
 * ones fail with "not queryable", and a broken client is destroyed when it goes back to the pool.
 * `onLost` hears the first error only: a dying connection errors for the server's FATAL, then for the socket.
 */
const guardedClient = (onLost: (e: Error) => void) =>
  class GuardedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      let lost = false;
      this.on('error', (e: Error) => {
        if (lost) return;
        lost = true;
        onLost(e);
      });
    }
  };

/**
 * SqlClient over a pg.Pool: int8 and numeric come back as strings, bytea as Buffer, timestamptz as Date
 * (pg's defaults). Connection failures surface as StoreUnavailableError so the API can answer 503.
 */
export class PgSqlClient implements SqlClient {
  private readonly pool: pg.Pool;
  private readonly clientConfig: pg.ClientConfig;
  private readonly logger: SqlClientLogger | undefined;
  private closed = false;

  // All advisory locks of this process share one session: a lock per pooled connection would starve the
  // pool once a handful of subscriptions hold theirs. Advisory locks are re-entrant within a session, so
  // `heldLocks` keeps two holders in this process apart.
  private lockSession: Promise<pg.Client> | null = null;
  private readonly heldLocks = new Set<string>();
  // pg runs one query at a time per connection; queueing them here keeps the order explicit (and pg from
  // warning about overlapping calls on one client).
  private lockQueue: Promise<unknown> = Promise.resolve();

  private readonly listener: PgListener;

  constructor(options: PgSqlClientOptions) {
    this.logger = options.logger;
    this.clientConfig = {
      connectionString: options.connectionString,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      application_name: options.applicationName ?? 'identity',
      keepAlive: true,
    };
    this.pool = new pg.Pool({
      ...this.clientConfig,
      max: options.max ?? 10,
      Client: guardedClient((e) => {
        if (!this.closed)
          this.logger?.warn(
            { err: e.message, code: (e as ErrorLike).code },
            'PostgreSQL connection lost; the pool replaces it',
          );
      }),
    });
    // pg-pool re-emits the error of an idle connection on the pool, which throws without a listener; the
    // connection's own listener has reported it already.
    this.pool.on('error', () => undefined);
    this.listener = new PgListener(this.clientConfig, this.logger);
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
    try {
      return result<R>(await this.pool.query(text, params ? [...params] : undefined));
    } catch (e) {
      throw toStoreError(e);
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw toStoreError(e);
    }
    let open = true;
    let broken: Error | undefined;
    const tx: SqlExecutor = {
      query: async <R>(text: string, params?: readonly unknown[]) => {
        if (!open) throw new Error('transaction already finished');
        try {
          return result<R>(await client.query(text, params ? [...params] : undefined));
        } catch (e) {
          if (isConnectionFailure(e)) broken = new Error('connection lost', { cause: e });
          throw toStoreError(e);
        }
      },
    };
    try {
      await client.query('begin');
      const value = await fn(tx);
      await client.query('commit');
      return value;
    } catch (e) {
      if (!broken && !isConnectionFailure(e)) {
        await client.query('rollback').catch((r: Error) => {
          broken = r;
        });
      } else {
        broken ??= new Error('connection lost', { cause: e });
      }
      throw toStoreError(e);
    } finally {
      open = false;
      // A connection in an unknown state is destroyed rather than handed to the next caller.
      client.release(broken);
    }
  }

  async tryLock(name: string): Promise<(() => Promise<void>) | null> {
    if (this.closed) throw new StoreUnavailableError('SQL client closed');
    if (this.heldLocks.has(name)) return null;
    this.heldLocks.add(name);
    let session: pg.Client;
    try {
      session = await this.connectLockSession();
      const r = await this.onLockSession(() =>
        session.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [name]),
      );
      if (!r.rows[0]?.ok) {
        this.heldLocks.delete(name);
        return null;
      }
    } catch (e) {
      this.heldLocks.delete(name);
      throw toStoreError(e);
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.heldLocks.delete(name);
      // A lost session took the lock with it: there is nothing left to unlock.
      if ((await this.lockSession?.catch(() => null)) !== session) return;
      await this.onLockSession(() =>
        session.query('select pg_advisory_unlock(hashtextextended($1, 0))', [name]),
      ).catch(() => undefined);
    };
  }

  private onLockSession<T>(run: () => Promise<T>): Promise<T> {
    const next = this.lockQueue.then(run, run);
    this.lockQueue = next.catch(() => undefined);
    return next;
  }

  private connectLockSession(): Promise<pg.Client> {
    if (this.lockSession) return this.lockSession;
    const attempt = (async () => {
      // Listeners before connect: an 'error' may come at any moment of the session's life (see guardedClient).
      const client = new pg.Client(this.clientConfig);
      let dropped = false;
      const lost = (e?: Error) => {
        if (this.lockSession === attempt) this.lockSession = null;
        if (dropped) return;
        dropped = true;
        // An error that left the socket open (a protocol error) would keep the locks held by a session
        // nobody uses any more: end it so the server releases them.
        client.end().catch(() => undefined);
        if (!this.closed)
          this.logger?.warn({ err: e?.message }, 'lock session lost; its advisory locks are released');
      };
      client.on('error', lost);
      client.on('end', () => lost());
      try {
        await client.connect();
      } catch (e) {
        dropped = true;
        client.end().catch(() => undefined);
        throw e;
      }
      return client;
    })();
    this.lockSession = attempt;
    attempt.catch(() => {
      if (this.lockSession === attempt) this.lockSession = null;
    });
    return attempt;
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new StoreUnavailableError('SQL client closed');
    return this.listener.listen(channel, onNotify).catch((e: unknown) => {
      throw toStoreError(e);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const lockSession = await this.lockSession?.catch(() => null);
    await Promise.all([this.listener.close(), lockSession?.end().catch(() => undefined), this.pool.end()]);
  }
}

import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { StoreUnavailableError } from '../../src/application/event-store';
import type { SqlClient } from '../../src/application/sql';
import { PostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store';
import { migrations } from '../../src/infrastructure/sql/migrations';
import { migrate } from '../../src/infrastructure/sql/migrator';
import { PgSqlClient } from '../../src/infrastructure/sql/pg-client';
import { testBackends, type TestDatabase } from '../support/databases';
import { SubscriptionRecorder } from './subscription-recorder';

/** What both SqlClient adapters promise: the same values, errors, locks and notifications as pg gives. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const eventually = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
};

/** A TCP relay to PostgreSQL that a test can cut, to take the server away from a client mid-flight. */
const relay = async (connectionString: string) => {
  const target = new URL(connectionString);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const via = new URL(connectionString);
  via.hostname = '127.0.0.1';
  via.port = String((server.address() as net.AddressInfo).port);
  return {
    connectionString: via.toString(),
    cut: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
};

for (const backend of testBackends()) {
  describe(`SqlClient: ${backend.name}`, () => {
    let db: TestDatabase;
    let sql: SqlClient;
    beforeAll(async () => {
      db = await backend.open();
      sql = db.sql;
    });
    afterAll(async () => {
      await db?.close();
    });

    it('answers values as pg does: int8 and numeric as strings, bytea as Buffer, timestamptz as Date', async () => {
      const id = randomUUID();
      const r = await sql.query(
        `select $1::int8 as big, 1.50::numeric as num, $2::bytea as bin, '2024-01-02T03:04:05.678Z'::timestamptz as at,
                $3::jsonb as doc, $4::text[] as tags, $5::int8[] as bigs, null::text as nothing, true as yes,
                7 as small, $6::uuid as id, pg_current_xact_id() < pg_current_xact_id() as never`,
        [
          '9007199254740993',
          Buffer.from([0, 1, 255]),
          JSON.stringify({ a: [1, { b: null }] }),
          ['x', 'y,z', '"q"'],
          ['1', '9007199254740993'],
          id,
        ],
      );
      expect(r.rowCount).toBe(1);
      expect(r.rows).toEqual([
        {
          big: '9007199254740993',
          num: '1.50',
          bin: Buffer.from([0, 1, 255]),
          at: new Date('2024-01-02T03:04:05.678Z'),
          doc: { a: [1, { b: null }] },
          tags: ['x', 'y,z', '"q"'],
          bigs: ['1', '9007199254740993'],
          nothing: null,
          yes: true,
          small: 7,
          id,
          never: false,
        },
      ]);
      const row = r.rows[0] as { bin: unknown; at: unknown; doc: unknown };
      expect(Buffer.isBuffer(row.bin)).toBe(true);
      expect(row.at).toBeInstanceOf(Date);
      expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    });

    it('encodes parameters as pg does: an object as JSON, a Date as its instant, a boolean', async () => {
      const r = await sql.query<{ k: string; same: boolean; flag: boolean }>(
        `select $1::jsonb ->> 'k' as k, $2::timestamptz = '2024-05-06T07:08:09.010Z'::timestamptz as same, $3::boolean as flag`,
        [{ k: 'v' }, new Date('2024-05-06T07:08:09.010Z'), false],
      );
      expect(r.rows).toEqual([{ k: 'v', same: true, flag: false }]);
    });

    it('runs a script without parameters and counts the rows of its last statement', async () => {
      const table = `t_${randomUUID().replace(/-/g, '')}`;
      const created = await sql.query(
        `create table ${table} (n int primary key); insert into ${table} values (1), (2), (3)`,
      );
      expect(created.rowCount).toBe(3);
      expect((await sql.query(`update ${table} set n = n + 10 where n > 1`)).rowCount).toBe(2);
      const read = await sql.query<{ n: number }>(`select n from ${table} order by n`);
      expect(read.rows).toEqual([{ n: 1 }, { n: 12 }, { n: 13 }]);
      expect(read.rowCount).toBe(3);
      await sql.query(`drop table ${table}`);
    });

    it('commits a transaction that resolves and rolls back one that throws, rethrowing its error', async () => {
      const table = `t_${randomUUID().replace(/-/g, '')}`;
      await sql.query(`create table ${table} (n int primary key)`);
      expect(
        await sql.transaction(
          async (tx) => (await tx.query(`insert into ${table} values ($1)`, [1])).rowCount,
        ),
      ).toBe(1);
      const failure = new Error('handler failed');
      const thrown = await rejection(
        sql.transaction(async (tx) => {
          await tx.query(`insert into ${table} values ($1)`, [2]);
          throw failure;
        }),
      );
      expect(thrown).toBe(failure);
      expect((await sql.query<{ n: number }>(`select n from ${table}`)).rows).toEqual([{ n: 1 }]);
      await sql.query(`drop table ${table}`);
    });

    it('raises server errors as pg.DatabaseError carrying the SQLSTATE and constraint', async () => {
      const table = `t_${randomUUID().replace(/-/g, '')}`;
      await sql.query(`create table ${table} (n int constraint ${table}_pk primary key)`);
      await sql.query(`insert into ${table} values ($1)`, [1]);
      const e = await rejection(sql.query(`insert into ${table} values ($1)`, [1]));
      expect(e).toBeInstanceOf(pg.DatabaseError);
      expect(e).toMatchObject({ code: '23505', constraint: `${table}_pk` });
      const inTx = await rejection(
        sql.transaction((tx) => tx.query(`insert into ${table} values ($1)`, [1])),
      );
      expect(inTx).toBeInstanceOf(pg.DatabaseError);
      expect(inTx).toMatchObject({ code: '23505' });
      await sql.query(`drop table ${table}`);
    });

    it('gives a named lock to one holder at a time until it is released', async () => {
      const release = await sql.tryLock('projection:users');
      expect(release).not.toBeNull();
      expect(await sql.tryLock('projection:users')).toBeNull();
      const other = await sql.tryLock('projection:sessions');
      expect(other).not.toBeNull();
      await release!();
      await release!();
      const again = await sql.tryLock('projection:users');
      expect(again).not.toBeNull();
      await again!();
      await other!();
    });

    it('delivers notifications to a listener until it stops listening', async () => {
      const got: string[] = [];
      const stop = await sql.listen('sql_client_test', (payload) => got.push(payload));
      await sql.query(`select pg_notify('sql_client_test', 'hello')`);
      await eventually(() => got.includes('hello'), 'the notification');
      await stop();
      await sql.query(`select pg_notify('sql_client_test', 'late')`);
      await sleep(200);
      expect(got).toEqual(['hello']);
    });

    if (backend.name === 'embedded') {
      it('fails a query on the client inside its own transaction instead of hanging', async () => {
        const e = await rejection(sql.transaction(() => sql.query('select 1')));
        expect((e as Error).message).toMatch(/inside its own transaction/);
        expect((await sql.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
      });
    }

    if (backend.name === 'postgres') {
      const secondClient = () => new PgSqlClient({ connectionString: db.connectionString!, max: 2 });

      it('keeps a lock from another instance while held, and loses it with its session', async () => {
        const other = secondClient();
        try {
          const release = await sql.tryLock('mailer');
          expect(release).not.toBeNull();
          expect(await other.tryLock('mailer')).toBeNull();
          await release!();
          const theirs = await other.tryLock('mailer');
          expect(theirs).not.toBeNull();
          expect(await sql.tryLock('mailer')).toBeNull();

          await sql.query(
            `select pg_terminate_backend(l.pid) from pg_locks l
             where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
               and l.pid <> pg_backend_pid()`,
          );
          await eventually(async () => {
            const mine = await sql.tryLock('mailer');
            await mine?.();
            return mine !== null;
          }, 'the freed lock');
          await theirs!();
        } finally {
          await other.close();
        }
      });

      it('listens again after its LISTEN connection is killed', async () => {
        const got: string[] = [];
        const stop = await sql.listen('sql_client_reconnect', (payload) => got.push(payload));
        try {
          const killed = await sql.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`,
          );
          expect(killed.rowCount).toBeGreaterThan(0);
          await eventually(async () => {
            await sql.query(`select pg_notify('sql_client_reconnect', 'after')`);
            await sleep(50);
            return got.includes('after');
          }, 'a notification after reconnecting');
        } finally {
          await stop();
        }
      });

      it('answers StoreUnavailableError when the server cannot be reached', async () => {
        const down = new PgSqlClient({
          connectionString: 'postgres://postgres@127.0.0.1:1/nothing',
          connectTimeoutMs: 1_000,
        });
        try {
          for (const attempt of [
            () => down.query('select 1'),
            () => down.transaction((tx) => tx.query('select 1')),
            () => down.tryLock('x'),
            () => down.listen('x', () => undefined),
            () => new PostgresEventStore(down).ping(),
          ]) {
            expect(await rejection(attempt())).toBeInstanceOf(StoreUnavailableError);
          }
        } finally {
          await down.close();
        }
      });

      /**
       * Records every 'error' a pg client emits with the listeners it had: with none, Node would end the
       * process (an unhandled 'error' event), which the spy records instead of throwing.
       */
      const watchClientErrors = () => {
        const proto = pg.Client.prototype as unknown as {
          emit: (event: string, ...args: unknown[]) => boolean;
        };
        const original = proto.emit;
        const seen: { message: string; listeners: number }[] = [];
        proto.emit = function (this: pg.Client, event: string, ...args: unknown[]) {
          if (event !== 'error') return original.call(this, event, ...args);
          const listeners = this.listenerCount('error');
          seen.push({ message: String((args[0] as Error)?.message), listeners });
          return listeners === 0 ? false : original.call(this, event, ...args);
        };
        return { seen, restore: () => delete (proto as { emit?: unknown }).emit };
      };

      it('answers StoreUnavailableError, and keeps the process up, when a transaction loses its connection', async () => {
        const errors = watchClientErrors();
        try {
          const table = `t_${randomUUID().replace(/-/g, '')}`;
          await sql.query(`create table ${table} (n int primary key)`);
          // Killed between two statements: the server's FATAL arrives while no query runs, on a client
          // checked out of the pool (pg-pool keeps no listener on it then).
          const between = await rejection(
            sql.transaction(async (tx) => {
              await tx.query(`insert into ${table} values (1)`);
              const pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
              await sql.query('select pg_terminate_backend($1)', [pid]);
              await eventually(() => errors.seen.length > 0, "the lost connection's error");
              await tx.query(`insert into ${table} values (2)`);
            }),
          );
          expect(between).toBeInstanceOf(StoreUnavailableError);
          // Killed while its statement runs.
          const during = await rejection(
            sql.transaction(async (tx) => {
              const pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
              const kill = sleep(100).then(() => sql.query('select pg_terminate_backend($1)', [pid]));
              try {
                await tx.query('select pg_sleep(5)');
              } finally {
                await kill;
              }
            }),
          );
          expect(during).toBeInstanceOf(StoreUnavailableError);
          expect(errors.seen.length).toBeGreaterThan(0);
          expect(errors.seen.filter((e) => e.listeners === 0)).toEqual([]);
          // Nothing of either transaction stayed, and the pool serves on fresh connections.
          expect((await sql.query(`select n from ${table}`)).rows).toEqual([]);
          await sql.query(`drop table ${table}`);
        } finally {
          errors.restore();
        }
      });

      it('ends a subscription with StoreUnavailableError when the server goes away', async () => {
        const link = await relay(db.connectionString!);
        const client = new PgSqlClient({ connectionString: link.connectionString, connectTimeoutMs: 1_000 });
        const store = new PostgresEventStore(client, { pollIntervalMs: 50 });
        const rec = new SubscriptionRecorder(store, { from: 'end' });
        try {
          await rec.until((r) => r.caughtUp, 'caught-up');
          await link.cut();
          expect(await rejection(rec.done)).toBeInstanceOf(StoreUnavailableError);
          expect(await rejection(store.appendToStream('s-1', [{ type: 'A', data: {} }]))).toBeInstanceOf(
            StoreUnavailableError,
          );
        } finally {
          await store.close();
          await client.close();
        }
      });

      it('applies each migration once when two instances migrate an empty database at once', async () => {
        const empty = await backend.open({ migrate: false });
        const other = new PgSqlClient({ connectionString: empty.connectionString! });
        try {
          const [a, b] = await Promise.all([migrate(empty.sql, migrations), migrate(other, migrations)]);
          const versions = migrations.map((m) => m.version).sort((x, y) => x - y);
          expect([...a, ...b].sort((x, y) => x - y)).toEqual(versions);
          const recorded = await empty.sql.query<{ version: number }>(
            'select version from schema_migrations order by version',
          );
          expect(recorded.rows.map((r) => r.version)).toEqual(versions);
          expect(await migrate(empty.sql, migrations)).toEqual([]);
        } finally {
          await other.close();
          await empty.close();
        }
      });
    }

    it('ends a subscription with StoreUnavailableError when the database is closed', async () => {
      const own = await backend.open({ store: { pollIntervalMs: 50 } });
      const rec = new SubscriptionRecorder(own.store, { from: 'end' });
      try {
        await rec.until((r) => r.caughtUp, 'caught-up');
        await own.sql.close();
        expect(await rejection(rec.done)).toBeInstanceOf(StoreUnavailableError);
      } finally {
        await own.close();
      }
    });
  });
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import Module from 'node:module';
import type * as PgliteModule from '@electric-sql/pglite';
import type { PGlite, Results, Transaction } from '@electric-sql/pglite';
import pg from 'pg';
import { StoreUnavailableError } from '../../application/event-store';
import type { SqlClient, SqlExecutor, SqlResult } from '../../application/sql';

export type PgliteOpenOptions = {
  /** A directory on disk; in memory when absent. One process per directory (see data-dir-lock.ts). */
  dataDir?: string;
  /** A `dumpDataDir()` tarball to start from (tests load one migrated template instead of migrating). */
  loadDataDir?: Blob | File;
};

// PGlite's WebAssembly loader calls import(), which a vm-sandboxed module registry such as Jest's rejects
// without --experimental-vm-modules (electric-sql/pglite#224), and such a registry also wraps require and
// createRequire. Module._load is Node's loader proper: outside a sandbox it is exactly what require does,
// inside one it loads PGlite outside it. Rows and errors are rebuilt below, so callers never hold a value
// from the other realm.
const loadPglite = (): typeof PgliteModule => {
  const entry = require.resolve('@electric-sql/pglite');
  const load = (Module as unknown as { _load?: (request: string, parent: null, isMain: boolean) => unknown })
    ._load;
  return (load ? load(entry, null, false) : Module.createRequire(__filename)(entry)) as typeof PgliteModule;
};

// pg's own parameter encoder and result parsers, so a value means the same on both backends: a JS array
// becomes a PostgreSQL array, an object JSON, a Date keeps its offset; int8 and numeric come back as strings
// (PGlite would answer a lossy number), bytea as Buffer, timestamptz as Date.
const prepareValue = (pg as unknown as { utils: { prepareValue: (v: unknown) => string | Buffer | null } })
  .utils.prepareValue;
const PG_PARSERS = new Proxy({}, { get: (_, oid) => pg.types.getTypeParser(Number(oid), 'text') });
// Parameters arrive encoded by `toParam`; PGlite's per-type serializers would encode them a second time.
const PASSTHROUGH = new Proxy({}, { get: () => (x: unknown) => x });

const toParam = (value: unknown): string | null => {
  const prepared = prepareValue(value);
  // pg sends a Buffer as a binary parameter; PGlite binds every parameter as text.
  return Buffer.isBuffer(prepared) ? `\\x${prepared.toString('hex')}` : prepared;
};

const DATABASE_ERROR_FIELDS = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

/** Errors as pg raises them: a server error is a pg.DatabaseError with its SQLSTATE in `code`. */
const toLocalError = (e: unknown): unknown => {
  if (
    e instanceof pg.DatabaseError ||
    e instanceof StoreUnavailableError ||
    typeof e !== 'object' ||
    e === null
  ) {
    return e;
  }
  const source = e as Record<string, unknown>;
  const message = typeof source.message === 'string' ? source.message : String(e);
  if (
    /PGlite is clos(ed|ing)/.test(message) ||
    source.name === 'RuntimeError' ||
    source.name === 'ExitStatus'
  ) {
    return new StoreUnavailableError(`embedded database unavailable: ${message}`, { cause: e });
  }
  if (typeof source.code === 'string' && typeof source.severity === 'string') {
    const local = new pg.DatabaseError(message, 0, 'error');
    for (const field of DATABASE_ERROR_FIELDS) {
      if (source[field] !== undefined) Object.assign(local, { [field]: source[field] });
    }
    return local;
  }
  if (e instanceof Error) return e;
  const local = new Error(message, { cause: e });
  if (typeof source.name === 'string') local.name = source.name;
  return local;
};

const result = <R>(r: Results | undefined): SqlResult<R> => ({
  rows: (r?.rows ?? []).map((row) => ({ ...row }) as R),
  rowCount: r?.rowCount ?? r?.affectedRows ?? 0,
});

type Runner = Pick<Transaction, 'query' | 'exec'>;

const run = async <R>(db: Runner, text: string, params?: readonly unknown[]): Promise<SqlResult<R>> => {
  try {
    // Like pg: no parameters means the simple protocol, which also runs multi-statement scripts.
    if (!params || params.length === 0) {
      const all = await db.exec(text);
      return result<R>(all[all.length - 1]);
    }
    return result<R>(await db.query(text, params.map(toParam)));
  } catch (e) {
    throw toLocalError(e);
  }
};

/**
 * SqlClient over one in-process PGlite (PostgreSQL 18 in WebAssembly). PGlite has a single connection:
 * statements and transactions run one at a time, so a transaction holds every other caller until it ends.
 */
export class PgliteSqlClient implements SqlClient {
  private readonly heldLocks = new Set<string>();
  // Inside a transaction the only connection is taken: a query on the client itself would wait for the
  // transaction that waits for it. Detect that and fail loudly instead of hanging.
  private readonly inTransaction = new AsyncLocalStorage<true>();

  private constructor(private readonly db: PGlite) {}

  static async open(options: PgliteOpenOptions = {}): Promise<PgliteSqlClient> {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const { PGlite } = loadPglite();
    let db: PGlite;
    try {
      db = await PGlite.create({ dataDir: options.dataDir, loadDataDir: options.loadDataDir });
    } catch (e) {
      throw toLocalError(e);
    }
    db.parsers = PG_PARSERS;
    db.serializers = PASSTHROUGH;
    return new PgliteSqlClient(db);
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
    this.assertNotNested();
    return run<R>(this.db, text, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.assertNotNested();
    try {
      return await this.db.transaction((tx) =>
        this.inTransaction.run(true, () =>
          fn({ query: <R>(text: string, params?: readonly unknown[]) => run<R>(tx, text, params) }),
        ),
      );
    } catch (e) {
      throw toLocalError(e);
    }
  }

  async tryLock(name: string): Promise<(() => Promise<void>) | null> {
    if (this.db.closed) throw new StoreUnavailableError('embedded database closed');
    if (this.heldLocks.has(name)) return null;
    this.heldLocks.add(name);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.heldLocks.delete(name);
    };
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    this.assertNotNested();
    try {
      const unlisten = await this.db.listen(channel, (payload) => onNotify(String(payload)));
      return async () => {
        if (!this.db.closed) await unlisten().catch(() => undefined);
      };
    } catch (e) {
      throw toLocalError(e);
    }
  }

  /** A gzipped tarball of the data directory, loadable with `open({ loadDataDir })`. */
  async dumpDataDir(): Promise<Blob> {
    return this.db.dumpDataDir('gzip');
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  private assertNotNested(): void {
    if (this.inTransaction.getStore()) {
      throw new Error('query on the SQL client inside its own transaction: use the transaction executor');
    }
  }
}

/**
 * The SQL port. Read models, checkpoints, key tables and the PostgreSQL event store all live in
 * PostgreSQL (a server, or PGlite embedded in the process); both speak through this interface.
 * Implementations normalise result types: int8/numeric come back as strings, bytea as Buffer,
 * timestamps as Date.
 */
export type SqlResult<R> = { rows: R[]; rowCount: number };

export interface SqlExecutor {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
}

export interface SqlClient extends SqlExecutor {
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Takes a named exclusive lock held until released (a PostgreSQL session-level advisory lock on a
   * dedicated connection). Resolves null at once when another holder has it.
   */
  tryLock(name: string): Promise<(() => Promise<void>) | null>;
  /** LISTEN on a channel; resolves with a function that stops listening. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

import type { SqlExecutor } from '../../application/sql';
import { buildTag, tablesOf, type Projection, type Tables } from './projection';

/**
 * The `projections` table (migration 0006): per projection, the version and tables that queries read and
 * the live runner writes, plus a rebuild in progress. Row locks on it order the live runner against a
 * rebuild's switch: the runner holds the row FOR SHARE for the whole of a batch, the switch takes it FOR
 * UPDATE, so a switch never lands in the middle of a batch.
 */
export type RegistryEntry = {
  name: string;
  version: number;
  tag: string;
  tables: string[];
  generation: number;
  activatedAt: Date;
  building: {
    version: number;
    tag: string;
    tables: string[];
    /** How far the rebuild has applied (its own checkpoint); null before its first page. */
    position: string | null;
    startedAt: Date;
  } | null;
};

type Row = {
  name: string;
  version: number;
  tag: string;
  tables: string[];
  generation: number;
  activated_at: Date;
  building_version: number | null;
  building_tag: string | null;
  building_tables: string[] | null;
  building_position: string | null;
  building_started_at: Date | null;
};

const COLUMNS = `name, version, tag, tables, generation, activated_at, building_version, building_tag,
  building_tables, building_position, building_started_at`;

const toEntry = (r: Row): RegistryEntry => ({
  name: r.name,
  version: Number(r.version),
  tag: r.tag,
  tables: r.tables,
  generation: Number(r.generation),
  activatedAt: r.activated_at,
  building:
    r.building_tag !== null && r.building_version !== null
      ? {
          version: Number(r.building_version),
          tag: r.building_tag,
          tables: r.building_tables ?? [],
          position: r.building_position,
          startedAt: r.building_started_at ?? r.activated_at,
        }
      : null,
});

export const readRegistry = async (sql: SqlExecutor, name: string): Promise<RegistryEntry | null> => {
  const r = await sql.query<Row>(`select ${COLUMNS} from projections where name = $1`, [name]);
  return r.rows[0] ? toEntry(r.rows[0]) : null;
};

/** Every projection in the registry, by name (the metrics' view of rebuilds in progress). */
export const readAllRegistry = async (sql: SqlExecutor): Promise<RegistryEntry[]> => {
  const r = await sql.query<Row>(`select ${COLUMNS} from projections order by name`);
  return r.rows.map(toEntry);
};

/**
 * The active build, locked for the caller's transaction (`share`: a live batch; `update`: a rebuild's
 * prepare or switch). The first caller ever creates the first build: empty tables of the code's version.
 */
export const lockActive = async (
  tx: SqlExecutor,
  projection: Projection,
  mode: 'share' | 'update',
): Promise<RegistryEntry> => {
  const select = `select ${COLUMNS} from projections where name = $1 for ${mode}`;
  let r = await tx.query<Row>(select, [projection.name]);
  if (!r.rows[0]) {
    const tag = buildTag(projection.version, 1, true);
    const tables = tablesOf(projection, tag);
    await projection.create(tx, tables);
    await tx.query(
      `insert into projections (name, version, tag, tables, generation) values ($1, $2, $3, $4, 1)
       on conflict (name) do nothing`,
      [projection.name, projection.version, tag, Object.values(tables)],
    );
    r = await tx.query<Row>(select, [projection.name]);
  }
  const row = r.rows[0];
  if (!row) throw new Error(`projection ${projection.name} could not be registered`);
  return toEntry(row);
};

/** The tables queries read, or null before the projection has ever run (the model is empty then). */
export const activeTables = async (sql: SqlExecutor, projection: Projection): Promise<Tables | null> => {
  const r = await sql.query<{ tag: string }>('select tag from projections where name = $1', [
    projection.name,
  ]);
  const tag = r.rows[0]?.tag;
  return tag === undefined ? null : tablesOf(projection, tag);
};

const UNDEFINED_TABLE = '42P01';

/**
 * Runs a read against the active tables. A rebuild drops the old tables right after its switch: a read
 * that looked up the old name just before gets "no such table", and is run once more on the new ones.
 */
export const readActive = async <T>(
  sql: SqlExecutor,
  projection: Projection,
  read: (tables: Tables) => Promise<T>,
  empty: T,
): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    const tables = await activeTables(sql, projection);
    if (!tables) return empty;
    try {
      return await read(tables);
    } catch (e) {
      if (attempt === 0 && (e as { code?: unknown })?.code === UNDEFINED_TABLE) continue;
      throw e;
    }
  }
};

export const dropTables = async (tx: SqlExecutor, tables: readonly string[]): Promise<void> => {
  // Names come from the registry, which only ever holds names made by `tableName`.
  for (const t of tables) {
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(t)) throw new Error(`not a safe table name: ${t}`);
    await tx.query(`drop table if exists ${t}`);
  }
};

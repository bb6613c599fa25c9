import { randomBytes, randomUUID } from 'node:crypto';
import * as nodeModule from 'node:module';
import type * as PgliteModule from '@electric-sql/pglite';
import type { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlExecutor } from '../../../src/application/sql';
import { EsAccessTokens, SqlSigningKeyStore } from '../../../src/infrastructure/crypto/jwt';
import { SqlPersonalDataVault } from '../../../src/infrastructure/crypto/pii-vault';
import { migration } from '../../../src/infrastructure/sql/migrations/0002-keys';

// PGlite's loader calls import(), which Jest's module sandbox refuses without --experimental-vm-modules
// (electric-sql/pglite#224). Jest also replaces createRequire, so the module is loaded with Node's own
// loader (the internal Module._load), outside the sandbox.
type NodeLoader = {
  _load(request: string, parent: { id: string; filename: string; paths: string[] }, isMain: boolean): unknown;
  _nodeModulePaths(dir: string): string[];
};
const loader = (nodeModule as unknown as { Module: NodeLoader }).Module;
const { PGlite: PGliteClass } = loader._load(
  '@electric-sql/pglite',
  { id: __filename, filename: __filename, paths: loader._nodeModulePaths(__dirname) },
  false,
) as typeof PgliteModule;

/** Just enough of the SQL port over PGlite for the key tables. */
const pgliteClient = (db: PGlite): SqlClient => {
  const executor = (q: Pick<PGlite, 'query'>): SqlExecutor => ({
    query: async <R>(text: string, params: readonly unknown[] = []) => {
      // A Date from the test's realm is not a Date to PGlite's serializer: send text, as pg would.
      const encoded = params.map((p) => (p instanceof Date ? p.toISOString() : p));
      const result = await q.query<R>(text, encoded);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  });
  return {
    ...executor(db),
    transaction: (fn) => db.transaction((tx) => fn(executor(tx))),
    tryLock: async () => null,
    listen: async () => async () => undefined,
    close: () => db.close(),
  };
};

describe('key tables on PostgreSQL (PGlite)', () => {
  let db: PGlite;
  let sql: SqlClient;

  beforeAll(async () => {
    db = await PGliteClass.create();
    sql = pgliteClient(db);
    await db.exec(migration.sql);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('migration 2 is named keys and can run twice', async () => {
    expect(migration).toMatchObject({ version: 2, name: 'keys' });
    await expect(db.exec(migration.sql)).resolves.toBeDefined();
  });

  it('seals, opens and crypto-shreds through pii_keys', async () => {
    const wrappingKey = randomBytes(32);
    const vault = new SqlPersonalDataVault(sql, wrappingKey);
    const user = randomUUID();
    await vault.createKey(user);
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice@example.com');
    expect(sealed).not.toContain('alice');

    // A second process reading the same table.
    const other = new SqlPersonalDataVault(sql, wrappingKey);
    await expect(other.open(user, sealed)).resolves.toBe('alice@example.com');

    const { rows } = await sql.query<{ wrapped_key: Uint8Array; created_at: Date }>(
      'select wrapped_key, created_at from pii_keys where user_id = $1',
      [user],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.wrapped_key).toHaveLength(60);

    await vault.erase(user);
    await expect(sql.query('select 1 from pii_keys where user_id = $1', [user])).resolves.toMatchObject({
      rows: [],
    });
    await expect(vault.open(user, sealed)).resolves.toBeNull();
    await expect(new SqlPersonalDataVault(sql, wrappingKey).open(user, sealed)).resolves.toBeNull();
  });

  it('creates, rotates and reloads signing keys through signing_keys', async () => {
    const wrappingKey = randomBytes(32);
    const store = new SqlSigningKeyStore(sql);
    const clock = { now: () => new Date() };
    const options = {
      store,
      wrappingKey,
      clock,
      issuer: 'https://id.example.test',
      audience: 'identity',
      refreshIntervalMs: 0,
    };
    const tokens = await EsAccessTokens.open(options);
    const first = await tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });

    const restarted = await EsAccessTokens.open(options);
    expect(restarted.jwks()).toEqual(tokens.jwks());
    await expect(restarted.verify(first.token)).resolves.toMatchObject({ jti: first.jti });

    const kid = await tokens.rotate();
    const { rows } = await sql.query<{
      kid: string;
      retired_at: Date | null;
      public_jwk: Record<string, string>;
    }>('select kid, retired_at, public_jwk from signing_keys order by created_at');
    expect(rows).toHaveLength(2);
    expect(Object.prototype.toString.call(rows[0]!.retired_at)).toBe('[object Date]');
    expect(rows[1]).toMatchObject({ kid, retired_at: null, public_jwk: { kty: 'EC', crv: 'P-256' } });
    expect(rows[1]!.public_jwk).not.toHaveProperty('d');

    await restarted.reload();
    const second = await restarted.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
    await expect(tokens.verify(second.token)).resolves.toMatchObject({ jti: second.jti });
    await expect(tokens.verify(first.token)).resolves.toMatchObject({ jti: first.jti });
  });
});

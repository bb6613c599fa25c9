import type { SqlClient } from '../../application/sql';

/** A row of `signing_keys` (migration 0002): the private key only ever wrapped, the public JWK in the clear. */
export type StoredSigningKey = {
  kid: string;
  privateKeyWrapped: Buffer;
  publicJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  createdAt: Date;
  retiredAt: Date | null;
};

export interface SigningKeyStore {
  list(): Promise<StoredSigningKey[]>;
  add(key: StoredSigningKey): Promise<void>;
  /** Adds `key` and retires every other unretired key, atomically. */
  rotate(key: StoredSigningKey, at: Date): Promise<void>;
}

type Row = {
  kid: string;
  private_key_wrapped: Uint8Array;
  public_jwk: StoredSigningKey['publicJwk'] | string;
  created_at: Date | string;
  retired_at: Date | string | null;
};

const INSERT =
  'insert into signing_keys (kid, private_key_wrapped, public_jwk, created_at, retired_at) values ($1, $2, $3::jsonb, $4, $5)';

const insertParams = (key: StoredSigningKey): unknown[] => [
  key.kid,
  key.privateKeyWrapped,
  JSON.stringify(key.publicJwk),
  key.createdAt,
  key.retiredAt,
];

export class SqlSigningKeyStore implements SigningKeyStore {
  constructor(private readonly sql: SqlClient) {}

  async list(): Promise<StoredSigningKey[]> {
    const { rows } = await this.sql.query<Row>(
      'select kid, private_key_wrapped, public_jwk, created_at, retired_at from signing_keys order by created_at, kid',
    );
    return rows.map((row) => ({
      kid: row.kid,
      privateKeyWrapped: Buffer.from(row.private_key_wrapped),
      publicJwk: typeof row.public_jwk === 'string' ? JSON.parse(row.public_jwk) : row.public_jwk,
      createdAt: new Date(row.created_at),
      retiredAt: row.retired_at === null ? null : new Date(row.retired_at),
    }));
  }

  async add(key: StoredSigningKey): Promise<void> {
    await this.sql.query(INSERT, insertParams(key));
  }

  async rotate(key: StoredSigningKey, at: Date): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(INSERT, insertParams(key));
      await tx.query('update signing_keys set retired_at = $1 where retired_at is null and kid <> $2', [
        at,
        key.kid,
      ]);
    });
  }
}

export class InMemorySigningKeyStore implements SigningKeyStore {
  readonly rows: StoredSigningKey[] = [];

  async list(): Promise<StoredSigningKey[]> {
    return this.rows.map((row) => ({ ...row }));
  }

  async add(key: StoredSigningKey): Promise<void> {
    if (this.rows.some((row) => row.kid === key.kid)) throw new Error('duplicate kid');
    this.rows.push({ ...key });
  }

  async rotate(key: StoredSigningKey, at: Date): Promise<void> {
    await this.add(key);
    for (const row of this.rows) if (row.retiredAt === null && row.kid !== key.kid) row.retiredAt = at;
  }
}

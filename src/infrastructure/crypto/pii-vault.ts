import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SqlExecutor } from '../../application/sql';
import { SealedDataError, type PersonalDataVault } from '../../application/ports';
import { unwrapKey, wrapKey } from './keys';

/**
 * Personal data sealed under per-user keys (docs/design.md, "Personal data and secrets in events"). Each
 * user has a random AES-256 data key, stored only wrapped under the `pii-wrap` key; erasure deletes the row
 * and every sealed value of that user becomes noise, in the event store, in backups and in any replay.
 */

/** Where wrapped data keys live: the `pii_keys` table, or memory in unit tests. */
export interface PiiKeyStore {
  find(userId: string): Promise<Buffer | null>;
  /**
   * Keeps an existing key: a retried registration must not replace the key its first attempt used. True
   * when this call stored the key.
   */
  insertIfAbsent(userId: string, wrappedKey: Buffer): Promise<boolean>;
  delete(userId: string): Promise<void>;
}

export class SqlPiiKeyStore implements PiiKeyStore {
  constructor(private readonly sql: SqlExecutor) {}

  async find(userId: string): Promise<Buffer | null> {
    const { rows } = await this.sql.query<{ wrapped_key: Uint8Array }>(
      'select wrapped_key from pii_keys where user_id = $1',
      [userId],
    );
    const row = rows[0];
    return row ? Buffer.from(row.wrapped_key) : null;
  }

  async insertIfAbsent(userId: string, wrappedKey: Buffer): Promise<boolean> {
    const r = await this.sql.query(
      'insert into pii_keys (user_id, wrapped_key) values ($1, $2) on conflict (user_id) do nothing',
      [userId, wrappedKey],
    );
    return r.rowCount === 1;
  }

  async delete(userId: string): Promise<void> {
    await this.sql.query('delete from pii_keys where user_id = $1', [userId]);
  }
}

export class InMemoryPiiKeyStore implements PiiKeyStore {
  readonly rows = new Map<string, Buffer>();

  async find(userId: string): Promise<Buffer | null> {
    return this.rows.get(userId) ?? null;
  }

  async insertIfAbsent(userId: string, wrappedKey: Buffer): Promise<boolean> {
    if (this.rows.has(userId)) return false;
    this.rows.set(userId, wrappedKey);
    return true;
  }

  async delete(userId: string): Promise<void> {
    this.rows.delete(userId);
  }
}

export type PiiVaultOptions = {
  /** Unwrapped keys kept in memory (least recently used go first). */
  cacheSize?: number;
  /**
   * How long a cached key is trusted. Erasure evicts at once in this process; another process sharing the
   * table notices on its next load, so this bounds how long it can still open an erased user's data.
   */
  cacheTtlMs?: number;
  now?: () => number;
};

const PREFIX = 'pii:v1:';
// iv: 12 bytes (16 chars), tag: 16 bytes (22 chars); the ciphertext is empty for an empty string.
const SEALED = /^pii:v1:([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{22})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class PiiVault implements PersonalDataVault {
  private readonly cache = new Map<string, { key: Buffer; loadedAt: number }>();
  private readonly loading = new Map<string, Promise<Buffer | null>>();
  private erasures = 0;
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: PiiKeyStore,
    private readonly wrappingKey: Buffer,
    options: PiiVaultOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 10_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  async createKey(userId: string): Promise<void> {
    const id = userKey(userId);
    const key = randomBytes(32);
    const erasuresBefore = this.erasures;
    const stored = await this.store.insertIfAbsent(id, wrapKey(this.wrappingKey, key, wrapContext(id)));
    // The key just stored is the user's key: the sealing that follows needs no read of it. (A key that was
    // already there, from an earlier attempt, is loaded as usual.)
    if (stored && this.erasures === erasuresBefore) this.remember(id, key);
  }

  async seal(userId: string, plaintext: string): Promise<string> {
    const id = userKey(userId);
    const key = await this.key(id);
    if (!key) throw new SealedDataError('pii-key-missing');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    // The user id as associated data binds the value to its owner (NIST SP 800-38D §5.2.1.1).
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${PREFIX}${iv.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
  }

  async open(userId: string, sealed: string): Promise<string | null> {
    const id = userKey(userId);
    const parts = typeof sealed === 'string' ? SEALED.exec(sealed) : null;
    if (!parts) throw new SealedDataError('pii-not-sealed');
    const key = await this.key(id);
    if (!key) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1] as string, 'base64url'), {
        authTagLength: 16,
      });
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(Buffer.from(parts[3] as string, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(parts[2] as string, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SealedDataError('pii-unreadable');
    }
  }

  async erase(userId: string): Promise<void> {
    const id = userKey(userId);
    this.erasures += 1;
    this.cache.delete(id);
    await this.store.delete(id);
    // Again after the delete: an open that began before it may have cached the key meanwhile.
    this.erasures += 1;
    this.cache.delete(id);
  }

  private async key(id: string): Promise<Buffer | null> {
    const cached = this.cache.get(id);
    if (cached && this.now() - cached.loadedAt < this.cacheTtlMs) {
      // Re-inserting moves the entry to the young end of the Map's insertion order: a cheap LRU.
      this.cache.delete(id);
      this.cache.set(id, cached);
      return cached.key;
    }
    this.cache.delete(id);
    const pending = this.loading.get(id);
    if (pending) return pending;
    const load = this.load(id).finally(() => this.loading.delete(id));
    this.loading.set(id, load);
    return load;
  }

  private async load(id: string): Promise<Buffer | null> {
    const erasuresBefore = this.erasures;
    const wrapped = await this.store.find(id);
    if (!wrapped) return null;
    const key = unwrapKey(this.wrappingKey, wrapped, wrapContext(id));
    // A key that does not unwrap was wrapped under another master key: refuse loudly rather than call the
    // user erased.
    if (!key) throw new SealedDataError('pii-unreadable');
    if (this.erasures === erasuresBefore) this.remember(id, key);
    return key;
  }

  private remember(id: string, key: Buffer): void {
    this.cache.set(id, { key, loadedAt: this.now() });
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
  }
}

/** The vault over the `pii_keys` table (migration 0002). */
export class SqlPersonalDataVault extends PiiVault {
  constructor(sql: SqlExecutor, wrappingKey: Buffer, options: PiiVaultOptions = {}) {
    super(new SqlPiiKeyStore(sql), wrappingKey, options);
  }
}

/** True for a value in the sealed format; says nothing about whether it still opens. */
export const isSealed = (value: unknown): value is string => typeof value === 'string' && SEALED.test(value);

const userKey = (userId: string): string => {
  const id = typeof userId === 'string' ? userId.toLowerCase() : '';
  if (!UUID.test(id)) throw new TypeError('user id must be a UUID');
  return id;
};

const wrapContext = (userId: string): string => `pii-key:${userId}`;

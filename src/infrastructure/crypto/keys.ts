import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { canonicalEmail } from '../../application/canonical-email';
import type { EmailKeys } from '../../application/ports';

/**
 * The master key and the keys derived from it (docs/design.md, "Personal data and secrets in events").
 * Every purpose gets its own HKDF-SHA256 sub-key (RFC 5869) under a distinct label, so a key can never be
 * replayed in another role. The master key itself is used for nothing but derivation.
 */

export const MASTER_KEY_BYTES = 32;

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

export type MasterKeySource = 'environment' | 'file' | 'generated';

/**
 * The master key from `MASTER_KEY` (already decoded by the configuration) or from
 * `<dataDir>/keys/master.key`, generating that file on first start. The file holds the key in base64, so
 * an operator can move it into `MASTER_KEY` as it is. Losing it makes every sealed value and signing key
 * unreadable: it must be backed up with the database.
 */
export const loadMasterKey = async (options: {
  masterKey?: Buffer | undefined;
  dataDir: string;
}): Promise<{ key: Buffer; source: MasterKeySource; file?: string }> => {
  if (options.masterKey !== undefined) {
    if (options.masterKey.length !== MASTER_KEY_BYTES)
      throw new MasterKeyError('MASTER_KEY must be 32 bytes');
    return { key: Buffer.from(options.masterKey), source: 'environment' };
  }
  const dir = path.join(options.dataDir, 'keys');
  const file = path.join(dir, 'master.key');
  const existing = await readKeyFile(file);
  if (existing) return { key: existing, source: 'file', file };

  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(MASTER_KEY_BYTES);
  // Written to a private temporary file, then hard-linked into place: link() fails when the name exists,
  // so of two processes starting at once exactly one key wins and nobody ever reads a half-written file.
  const temp = path.join(dir, `.master.key.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
  try {
    await handle.writeFile(`${key.toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const winner = await readKeyFile(file);
    if (!winner) throw new MasterKeyError(`${file} appeared while starting but cannot be read`);
    return { key: winner, source: 'file', file };
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dir);
  return { key, source: 'generated', file };
};

const readKeyFile = async (file: string): Promise<Buffer | null> => {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const encoded = text.trim();
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== MASTER_KEY_BYTES || key.toString('base64') !== encoded) {
    throw new MasterKeyError(`${file} does not hold a 32-byte base64 key`);
  }
  return key;
};

const syncDirectory = async (dir: string): Promise<void> => {
  // Makes the new directory entry durable; not every platform lets a directory be opened for this.
  const handle = await fs.open(dir, 'r').catch(() => null);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
};

export type KeyLabel =
  | 'email-reservation'
  | 'one-time-tokens'
  | 'refresh-tokens'
  | 'pii-wrap'
  | 'signing-key-wrap'
  | 'idempotency';

/** The derived keys. Printing or serialising the ring shows no key material. */
export type KeyRing = Readonly<{
  emailReservation: Buffer;
  oneTimeTokens: Buffer;
  refreshTokens: Buffer;
  piiWrap: Buffer;
  signingKeyWrap: Buffer;
  idempotency: Buffer;
}>;

// The salt is fixed and empty: the master key is already uniformly random, which RFC 5869 §3.1 allows.
// Labels are part of the stored data's meaning: changing one makes everything under it unreadable.
const derive = (master: Buffer, label: KeyLabel): Buffer =>
  Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), label, 32));

export const deriveKeys = (master: Buffer): KeyRing => {
  if (master.length !== MASTER_KEY_BYTES) throw new MasterKeyError('the master key must be 32 bytes');
  const ring = {
    emailReservation: derive(master, 'email-reservation'),
    oneTimeTokens: derive(master, 'one-time-tokens'),
    refreshTokens: derive(master, 'refresh-tokens'),
    piiWrap: derive(master, 'pii-wrap'),
    signingKeyWrap: derive(master, 'signing-key-wrap'),
    idempotency: derive(master, 'idempotency'),
  };
  Object.defineProperties(ring, {
    toJSON: { value: () => '[key ring]', enumerable: false },
    [inspect.custom]: { value: () => '[key ring]', enumerable: false },
  });
  return Object.freeze(ring);
};

/** `email-<hmac>` stream keys: the stream id names the address without holding it. */
export class HmacEmailKeys implements EmailKeys {
  constructor(private readonly key: Buffer) {}

  reservationKey(address: string): string {
    // A key for a non-canonical spelling would open a second reservation stream for the same mailbox.
    if (canonicalEmail(address) !== address)
      throw new TypeError('reservation keys take canonical addresses only');
    return createHmac('sha256', this.key).update(address, 'utf8').digest('hex');
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Key wrapping for the key tables: AES-256-GCM with a fresh 96-bit IV (NIST SP 800-38D §8.2.2; random IVs
 * stay far below the 2^32-messages bound at one wrap per user or signing key), laid out `iv || ct || tag`.
 * `context` is bound as associated data, so a wrapped key moved to another row does not unwrap.
 */
export const wrapKey = (wrappingKey: Buffer, plaintext: Buffer, context: string): Buffer => {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
};

/** The unwrapped key, or null when the blob was not wrapped under this key for this context. */
export const unwrapKey = (wrappingKey: Buffer, wrapped: Buffer, context: string): Buffer | null => {
  if (wrapped.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrappingKey, wrapped.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return null;
  }
};

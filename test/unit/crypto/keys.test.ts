import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  deriveKeys,
  HmacEmailKeys,
  loadMasterKey,
  MasterKeyError,
  unwrapKey,
  wrapKey,
} from '../../../src/infrastructure/crypto/keys';

describe('master key', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'keys-test-'));
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('is generated on first start into keys/master.key, readable by its owner only', async () => {
    const first = await loadMasterKey({ dataDir });
    expect(first.source).toBe('generated');
    expect(first.key).toHaveLength(32);
    const file = path.join(dataDir, 'keys', 'master.key');
    const stat = await fs.stat(file);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64').equals(first.key)).toBe(true);
    expect((await fs.readdir(path.join(dataDir, 'keys'))).filter((name) => name.endsWith('.tmp'))).toEqual(
      [],
    );
  });

  it('is read back, unchanged, on a second start', async () => {
    const first = await loadMasterKey({ dataDir });
    const second = await loadMasterKey({ dataDir });
    expect(second.source).toBe('file');
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('comes out the same for processes starting at the same moment', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ dataDir })));
    const first = keys[0]!.key;
    expect(keys.every(({ key }) => key.equals(first))).toBe(true);
    expect(keys.filter(({ source }) => source === 'generated')).toHaveLength(1);
  });

  it('comes from MASTER_KEY when given, without touching the data directory', async () => {
    const masterKey = randomBytes(32);
    const loaded = await loadMasterKey({ dataDir, masterKey });
    expect(loaded.source).toBe('environment');
    expect(loaded.key.equals(masterKey)).toBe(true);
    await expect(fs.readdir(dataDir)).resolves.toEqual([]);
    await expect(loadMasterKey({ dataDir, masterKey: randomBytes(16) })).rejects.toThrow(MasterKeyError);
  });

  it('refuses a key file that does not hold 32 bytes, without echoing it', async () => {
    await fs.mkdir(path.join(dataDir, 'keys'));
    await fs.writeFile(path.join(dataDir, 'keys', 'master.key'), 'c2hvcnQ=\n');
    const error = await loadMasterKey({ dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterKeyError);
    expect((error as Error).message).not.toContain('c2hvcnQ');
  });
});

describe('derived keys', () => {
  const master = randomBytes(32);

  it('are 32 bytes each, all different, and stable for one master key', () => {
    const ring = deriveKeys(master);
    const keys = [
      ring.emailReservation,
      ring.oneTimeTokens,
      ring.refreshTokens,
      ring.piiWrap,
      ring.signingKeyWrap,
    ];
    expect(keys.every((key) => key.length === 32)).toBe(true);
    expect(new Set(keys.map((key) => key.toString('hex'))).size).toBe(5);
    expect(keys.some((key) => key.equals(master))).toBe(false);
    expect(deriveKeys(Buffer.from(master)).piiWrap.equals(ring.piiWrap)).toBe(true);
    expect(deriveKeys(randomBytes(32)).piiWrap.equals(ring.piiWrap)).toBe(false);
  });

  it('show no key material when logged or serialised', () => {
    const ring = deriveKeys(master);
    const hex = ring.piiWrap.toString('hex');
    expect(JSON.stringify({ ring })).not.toContain(hex.slice(0, 8));
    expect(inspect(ring)).toBe('[key ring]');
    expect(JSON.stringify({ ring })).not.toMatch(/data|\d{2,},\d{2,}/);
  });
});

describe('key wrapping', () => {
  const wrapping = randomBytes(32);

  it('round-trips, and refuses another context or another wrapping key', () => {
    const secret = randomBytes(32);
    const wrapped = wrapKey(wrapping, secret, 'ctx:a');
    expect(wrapped.includes(secret)).toBe(false);
    expect(unwrapKey(wrapping, wrapped, 'ctx:a')?.equals(secret)).toBe(true);
    expect(unwrapKey(wrapping, wrapped, 'ctx:b')).toBeNull();
    expect(unwrapKey(randomBytes(32), wrapped, 'ctx:a')).toBeNull();
    const tampered = Buffer.from(wrapped);
    tampered[20] = (tampered[20] as number) ^ 1;
    expect(unwrapKey(wrapping, tampered, 'ctx:a')).toBeNull();
  });
});

describe('email reservation keys', () => {
  it('are a hex HMAC that depends on the key and names the address without holding it', () => {
    const keys = new HmacEmailKeys(randomBytes(32));
    const key = keys.reservationKey('alice@example.com');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(keys.reservationKey('alice@example.com')).toBe(key);
    expect(keys.reservationKey('bob@example.com')).not.toBe(key);
    expect(new HmacEmailKeys(randomBytes(32)).reservationKey('alice@example.com')).not.toBe(key);
  });

  it('refuse an address that is not in canonical form', () => {
    const keys = new HmacEmailKeys(randomBytes(32));
    expect(() => keys.reservationKey('Alice@Example.com')).toThrow(TypeError);
    expect(() => keys.reservationKey(' alice@example.com')).toThrow(TypeError);
  });
});

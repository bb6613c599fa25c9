import { randomBytes, randomUUID } from 'node:crypto';
import { SealedDataError } from '../../../src/application/ports';
import { InMemoryPiiKeyStore, isSealed, PiiVault } from '../../../src/infrastructure/crypto/pii-vault';

const setup = (options: ConstructorParameters<typeof PiiVault>[2] = {}) => {
  const store = new InMemoryPiiKeyStore();
  const wrappingKey = randomBytes(32);
  return { store, wrappingKey, vault: new PiiVault(store, wrappingKey, options) };
};

describe('PiiVault', () => {
  it('seals and opens personal data', async () => {
    const { vault } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice@example.com');
    expect(sealed).toMatch(/^pii:v1:[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain('alice');
    expect(isSealed(sealed)).toBe(true);
    await expect(vault.open(user, sealed)).resolves.toBe('alice@example.com');
  });

  it('round-trips empty and non-ASCII text', async () => {
    const { vault } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    for (const text of ['', 'Zoë Ωmega 🙂', 'x'.repeat(10_000)]) {
      await expect(vault.open(user, await vault.seal(user, text))).resolves.toBe(text);
    }
  });

  it('uses a fresh IV every time: the same value never seals the same way twice', async () => {
    const { vault } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    expect(await vault.seal(user, 'same')).not.toBe(await vault.seal(user, 'same'));
  });

  it('stores the data key only wrapped', async () => {
    const { vault, store } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    expect(store.rows.get(user)).toHaveLength(12 + 32 + 16);
  });

  it('seals with a key it has just created without reading it back; an existing key is read', async () => {
    const { vault, store, wrappingKey } = setup();
    const reads = jest.spyOn(store, 'find');
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'fresh');
    expect(reads).not.toHaveBeenCalled();
    // Another process (a fresh vault) holding the same table opens it with the stored key.
    await expect(new PiiVault(store, wrappingKey).open(user, sealed)).resolves.toBe('fresh');

    const retried = new PiiVault(store, wrappingKey);
    await retried.createKey(user);
    await expect(retried.open(user, sealed)).resolves.toBe('fresh');
    expect(reads).toHaveBeenCalled();
  });

  it('keeps the first key when createKey is retried', async () => {
    const { vault, store } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'kept');
    const row = store.rows.get(user);
    await vault.createKey(user);
    expect(store.rows.get(user)).toBe(row);
    await expect(vault.open(user, sealed)).resolves.toBe('kept');
  });

  it('after erase, opens nothing and the key row is gone', async () => {
    const { vault, store } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice@example.com');
    await expect(vault.open(user, sealed)).resolves.toBe('alice@example.com'); // now cached
    await vault.erase(user);
    expect(store.rows.has(user)).toBe(false);
    await expect(vault.open(user, sealed)).resolves.toBeNull();
    await expect(vault.seal(user, 'new data')).rejects.toEqual(new SealedDataError('pii-key-missing'));
    await expect(vault.erase(user)).resolves.toBeUndefined();
  });

  it('erasing one user leaves the others readable', async () => {
    const { vault } = setup();
    const [a, b] = [randomUUID(), randomUUID()];
    await vault.createKey(a);
    await vault.createKey(b);
    const sealedB = await vault.seal(b, 'bob');
    await vault.erase(a);
    await expect(vault.open(b, sealedB)).resolves.toBe('bob');
  });

  it("binds a value to its user: another user's key does not open it", async () => {
    const { vault } = setup();
    const [a, b] = [randomUUID(), randomUUID()];
    await vault.createKey(a);
    await vault.createKey(b);
    const sealed = await vault.seal(a, 'alice');
    await expect(vault.open(b, sealed)).rejects.toEqual(new SealedDataError('pii-unreadable'));
  });

  it('refuses a tampered value', async () => {
    const { vault } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice@example.com');
    const [prefix, ciphertext, tag] = sealed.split('.') as [string, string, string];
    const flipped = `${prefix}.${ciphertext[0] === 'A' ? 'B' : 'A'}${ciphertext.slice(1)}.${tag}`;
    expect(flipped).not.toBe(sealed);
    await expect(vault.open(user, flipped)).rejects.toEqual(new SealedDataError('pii-unreadable'));
  });

  it('refuses a value that is not sealed rather than passing plaintext through', async () => {
    const { vault } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    await expect(vault.open(user, 'alice@example.com')).rejects.toEqual(
      new SealedDataError('pii-not-sealed'),
    );
    await expect(vault.open(user, 'pii:v2:abc')).rejects.toEqual(new SealedDataError('pii-not-sealed'));
    expect(isSealed('alice@example.com')).toBe(false);
  });

  it('refuses keys wrapped under another master key instead of calling the user erased', async () => {
    const { vault, store } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice');
    const other = new PiiVault(store, randomBytes(32));
    await expect(other.open(user, sealed)).rejects.toEqual(new SealedDataError('pii-unreadable'));
  });

  it('treats user ids case-insensitively', async () => {
    const { vault } = setup();
    const user = randomUUID();
    await vault.createKey(user.toUpperCase());
    await expect(vault.open(user, await vault.seal(user.toUpperCase(), 'x'))).resolves.toBe('x');
    await expect(vault.createKey('not-a-uuid')).rejects.toThrow(TypeError);
  });

  it('caches unwrapped keys, bounded, and re-reads them after the time limit', async () => {
    let now = 0;
    const { vault, store } = setup({ cacheSize: 2, cacheTtlMs: 1000, now: () => now });
    const find = jest.spyOn(store, 'find');
    const users = [randomUUID(), randomUUID(), randomUUID()];
    const sealed: string[] = [];
    for (const user of users) {
      await vault.createKey(user);
      sealed.push(await vault.seal(user, user));
    }
    find.mockClear();
    await vault.open(users[1]!, sealed[1]!);
    await vault.open(users[2]!, sealed[2]!);
    expect(find).not.toHaveBeenCalled();
    await vault.open(users[0]!, sealed[0]!); // evicted by the bound of 2
    expect(find).toHaveBeenCalledTimes(1);
    now = 1500;
    await vault.open(users[0]!, sealed[0]!);
    expect(find).toHaveBeenCalledTimes(2);
  });

  it('notices an erasure made by another process once the cached key expires', async () => {
    let now = 0;
    const { store, wrappingKey, vault } = setup({ cacheTtlMs: 1000, now: () => now });
    const other = new PiiVault(store, wrappingKey);
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice');
    await expect(vault.open(user, sealed)).resolves.toBe('alice');
    await other.erase(user);
    now = 1001;
    await expect(vault.open(user, sealed)).resolves.toBeNull();
  });

  it('does not cache a key loaded while the user was being erased', async () => {
    const { store, wrappingKey, vault } = setup();
    const user = randomUUID();
    await vault.createKey(user);
    const sealed = await vault.seal(user, 'alice');
    const reader = new PiiVault(store, wrappingKey);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const find = store.find.bind(store);
    // The row is read before the erasure and handed over after it.
    jest.spyOn(store, 'find').mockImplementationOnce(async (id) => {
      const row = await find(id);
      await gate;
      return row;
    });
    const opening = reader.open(user, sealed);
    await reader.erase(user);
    release();
    await opening;
    await expect(reader.open(user, sealed)).resolves.toBeNull();
  });
});

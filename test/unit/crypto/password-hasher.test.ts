import { Argon2PasswordHasher, ARGON2_FLOOR } from '../../../src/infrastructure/crypto/password-hasher';

describe('Argon2PasswordHasher', () => {
  let hasher: Argon2PasswordHasher;
  beforeAll(async () => {
    hasher = await Argon2PasswordHasher.create();
  });

  it('hashes with argon2id at the OWASP floor by default', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(hash).toContain('m=19456');
    expect(hash).toMatch(/[$,]t=2[$,]/);
    expect(hash).toMatch(/[$,]p=1[$,]/);
    expect(hash).not.toContain('correct horse');
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    await expect(hasher.verify(hash, 'correct horse battery staple')).resolves.toBe(true);
    await expect(hasher.verify(hash, 'correct horse battery stapl')).resolves.toBe(false);
    await expect(hasher.verify(hash, 'Correct horse battery staple')).resolves.toBe(false);
  });

  it('never trims: surrounding spaces are part of the password', async () => {
    const hash = await hasher.hash('  spaced out password  ');
    await expect(hasher.verify(hash, 'spaced out password')).resolves.toBe(false);
    await expect(hasher.verify(hash, '  spaced out password  ')).resolves.toBe(true);
  });

  it('verifies a password typed with decomposed accents against one hashed composed (NFKC)', async () => {
    const hash = await hasher.hash('caf\u00e9 au lait tous les jours');
    await expect(hasher.verify(hash, 'cafe\u0301 au lait tous les jours')).resolves.toBe(true);
  });

  it('salts: the same password hashes differently each time', async () => {
    expect(await hasher.hash('same password twice')).not.toBe(await hasher.hash('same password twice'));
  });

  it('rejects nothing itself: short, common and empty passwords are hashed (the policy runs first)', async () => {
    for (const password of ['', 'a', 'password']) {
      const hash = await hasher.hash(password);
      await expect(hasher.verify(hash, password)).resolves.toBe(true);
    }
  });

  it('answers false, not an exception, for a stored hash it cannot read', async () => {
    await expect(hasher.verify('not a hash', 'whatever')).resolves.toBe(false);
    await expect(hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA', 'whatever')).resolves.toBe(false);
  });

  it('verifyDummy takes about as long as a real verification and reveals nothing', async () => {
    const hash = await hasher.hash('a real password here');
    // Interleaved, and the fastest of five runs each: a busy machine slows both alike, and its noise is
    // mostly kept out of the comparison.
    const elapsed = async (fn: () => Promise<unknown>): Promise<number> => {
      const start = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    await hasher.verifyDummy('warm up');
    const reals: number[] = [];
    const dummies: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      reals.push(await elapsed(() => hasher.verify(hash, 'some guess')));
      dummies.push(await elapsed(() => hasher.verifyDummy('some guess')));
    }
    const real = Math.min(...reals);
    const dummy = Math.min(...dummies);
    await expect(hasher.verifyDummy('anything')).resolves.toBeUndefined();
    // Same parameters, same work: within a factor of three on a noisy CI machine.
    expect(dummy).toBeGreaterThan(real / 3);
    expect(dummy).toBeLessThan(real * 3);
  });

  describe('needsRehash', () => {
    it('is false for a hash made with the configured parameters', async () => {
      expect(hasher.needsRehash(await hasher.hash('some password'))).toBe(false);
    });

    it('is true once any configured parameter rises above the stored one', async () => {
      const stored = await hasher.hash('some password');
      const moreMemory = await Argon2PasswordHasher.create({ memoryCost: ARGON2_FLOOR.memoryCost * 2 });
      const moreTime = await Argon2PasswordHasher.create({ timeCost: 3 });
      const moreLanes = await Argon2PasswordHasher.create({ parallelism: 2 });
      expect(moreMemory.needsRehash(stored)).toBe(true);
      expect(moreTime.needsRehash(stored)).toBe(true);
      expect(moreLanes.needsRehash(stored)).toBe(true);
      // The stronger hash then verifies with the weaker hasher, and is not "downgraded".
      const stronger = await moreTime.hash('some password');
      expect(hasher.needsRehash(stronger)).toBe(false);
      await expect(hasher.verify(stronger, 'some password')).resolves.toBe(true);
    });

    it('is true for another argon2 variant or something unreadable', () => {
      expect(hasher.needsRehash('$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaGhhc2hoYXNo')).toBe(true);
      expect(hasher.needsRehash('$argon2id$v=16$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaGhhc2hoYXNo')).toBe(true);
      expect(hasher.needsRehash('$2b$10$abcdefghijklmnopqrstuv')).toBe(true);
    });
  });

  it('refuses parameters below the floor', async () => {
    await expect(Argon2PasswordHasher.create({ memoryCost: 4096 })).rejects.toThrow(RangeError);
    await expect(Argon2PasswordHasher.create({ timeCost: 1 })).rejects.toThrow(RangeError);
    await expect(Argon2PasswordHasher.create({ parallelism: 0 })).rejects.toThrow(RangeError);
  });
});

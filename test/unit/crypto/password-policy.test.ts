import type { PasswordHasher } from '../../../src/application/ports';
import commonPasswords from '../../../src/infrastructure/crypto/common-passwords.json';
import { hashNewPassword } from '../../../src/application/user/new-password';
import { passwordPolicy } from '../../../src/infrastructure/crypto/password-policy';

const email = 'jane.doe@example.com';
const policy = passwordPolicy();
const check = (password: string, address = email) => policy.check(password, { email: address });

const spyHasher = (): PasswordHasher & { hash: jest.Mock } => ({
  hash: jest.fn(async () => '$argon2id$stub'),
  verify: jest.fn(async () => false),
  needsRehash: jest.fn(() => false),
  verifyDummy: jest.fn(async () => undefined),
});

describe('password policy', () => {
  it('accepts a long, uncommon password with no composition rules', () => {
    expect(check('correct horse battery staple')).toEqual([]);
    expect(check('alllowercaseletters')).toEqual([]);
  });

  it('refuses fewer than 12 characters by default', () => {
    expect(check('elevenchars')).toEqual(['too-short']);
    expect(check('twelve chars')).toEqual([]);
  });

  it('takes a configured minimum, never below 8', () => {
    expect(passwordPolicy({ minLength: 16 }).check('fifteen chars!!', { email })).toEqual(['too-short']);
    expect(passwordPolicy({ minLength: 8 }).check('zq7#kv2m', { email })).toEqual([]);
    expect(() => passwordPolicy({ minLength: 6 })).toThrow(RangeError);
  });

  it('counts code points, not UTF-16 units: twelve emoji are twelve characters', () => {
    expect(check('🙂'.repeat(11))).toEqual(['too-short']);
    expect(check('🙂'.repeat(12))).toEqual([]);
  });

  it('accepts 256 characters and refuses 257, counted in code points', () => {
    expect(check('x'.repeat(256).replace(/^x{4}/, 'ab1!'))).toEqual([]);
    expect(check('🙂'.repeat(256))).toEqual([]); // 512 UTF-16 units
    expect(check('🙂'.repeat(257))).toEqual(['too-long']);
    expect(check('a'.repeat(257))).toEqual(['too-long']);
    expect(check('a'.repeat(1_000_000))).toEqual(['too-long']);
  });

  it('never trims: spaces count towards the length', () => {
    expect(check(' elevenchars')).toEqual([]);
    expect(check('elevenchars ')).toEqual([]);
  });

  it.each(['password', '123456789012', 'qwertyuiopas', 'passwordpassword', 'iloveyou1234'])(
    'refuses the common password %j',
    (password) => {
      expect(check(password)).toContain('common');
    },
  );

  it('compares against the common list without regard to case or full-width letters', () => {
    expect(check('PassWordPassWord')).toEqual(['common']);
    expect(check('ILOVEYOU1234')).toEqual(['common']);
    expect(
      check(
        '\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44',
      ),
    ).toEqual(['common']);
  });

  it('ships a list of a few thousand lower-case, unique entries', () => {
    const list = commonPasswords as string[];
    expect(list.length).toBeGreaterThan(3000);
    expect(new Set(list).size).toBe(list.length);
    expect(list.every((entry) => entry === entry.toLowerCase())).toBe(true);
  });

  it('refuses a password containing the local part of the email, in any case', () => {
    expect(check('my name is JANE.DOE ok')).toEqual(['contains-email']);
  });

  it('refuses a password containing the whole email', () => {
    expect(check('x@ab.example.com!', 'x@ab.example.com')).toEqual(['contains-email']);
  });

  it('ignores a local part shorter than 3 characters', () => {
    expect(check('jo is a fine name here', 'jo@example.com')).toEqual([]);
    expect(check('abc is a fine name here', 'abc@example.com')).toEqual(['contains-email']);
  });

  it('lists every reason that applies', () => {
    expect(check('jane.doe1', 'jane.doe1@example.com')).toEqual(['too-short', 'contains-email']);
    expect(check('Password1', 'x@example.com')).toEqual(['too-short', 'common']);
  });
});

describe('hashNewPassword', () => {
  it('hashes a password that passes the policy', async () => {
    const hasher = spyHasher();
    await expect(hashNewPassword(policy, hasher, 'correct horse battery staple', { email })).resolves.toEqual(
      {
        ok: true,
        hash: '$argon2id$stub',
      },
    );
    expect(hasher.hash).toHaveBeenCalledTimes(1);
  });

  it('refuses 257 characters before any hashing', async () => {
    const hasher = spyHasher();
    await expect(hashNewPassword(policy, hasher, 'a'.repeat(257), { email })).resolves.toEqual({
      ok: false,
      reasons: ['too-long'],
    });
    expect(hasher.hash).not.toHaveBeenCalled();
  });

  it('does not hash a weak password either', async () => {
    const hasher = spyHasher();
    const result = await hashNewPassword(policy, hasher, 'passwordpassword', { email });
    expect(result).toEqual({ ok: false, reasons: ['common'] });
    expect(hasher.hash).not.toHaveBeenCalled();
  });
});

import { randomBytes } from 'node:crypto';
import { argon2id, hash as argon2Hash, verify as argon2Verify } from 'argon2';
import type { PasswordHasher } from '../../application/ports';

export type Argon2Params = { memoryCost: number; timeCost: number; parallelism: number };

/** OWASP Password Storage Cheat Sheet's argon2id floor: 19 MiB, 2 iterations, 1 lane (~28 ms here). */
export const ARGON2_FLOOR: Readonly<Argon2Params> = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

const ARGON2_VERSION = 19;
// PHC string format; the library writes the parameters as m,p,t, older ones as m,t,p: order is not fixed.
const PHC = /^\$argon2(id|i|d)\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/**
 * argon2id (RFC 9106). Parameters never go below the floor; raising them makes `needsRehash` true for
 * older hashes, which the login handler rehashes once the password is proven.
 */
export class Argon2PasswordHasher implements PasswordHasher {
  private readonly params: Argon2Params;

  private constructor(
    params: Argon2Params,
    private readonly dummyHash: string,
  ) {
    this.params = params;
  }

  /** Builds the hasher and its dummy hash once, at start-up (one argon2 run). */
  static async create(params: Partial<Argon2Params> = {}): Promise<Argon2PasswordHasher> {
    const chosen = checkedParams(params);
    const dummy = await argon2Hash(randomBytes(32).toString('base64url'), { type: argon2id, ...chosen });
    return new Argon2PasswordHasher(chosen, dummy);
  }

  hash(password: string): Promise<string> {
    return argon2Hash(normalise(password), { type: argon2id, ...this.params });
  }

  async verify(hash: string, password: string): Promise<boolean> {
    if (typeof hash !== 'string' || !hash.startsWith('$argon2')) return false;
    try {
      return await argon2Verify(hash, normalise(password));
    } catch {
      return false;
    }
  }

  needsRehash(hash: string): boolean {
    const parts = typeof hash === 'string' ? PHC.exec(hash) : null;
    if (!parts || parts[1] !== 'id' || Number(parts[2]) !== ARGON2_VERSION) return true;
    const stored = new Map(
      (parts[3] as string).split(',').map((pair) => [pair[0], Number(pair.slice(2))] as const),
    );
    const below = (name: string, wanted: number): boolean => !((stored.get(name) ?? 0) >= wanted);
    return (
      below('m', this.params.memoryCost) ||
      below('t', this.params.timeCost) ||
      below('p', this.params.parallelism)
    );
  }

  async verifyDummy(password: string): Promise<void> {
    await argon2Verify(this.dummyHash, normalise(password)).catch(() => false);
  }
}

const checkedParams = (params: Partial<Argon2Params>): Argon2Params => {
  const chosen = { ...ARGON2_FLOOR, ...params };
  for (const name of ['memoryCost', 'timeCost', 'parallelism'] as const) {
    if (!Number.isInteger(chosen[name]) || chosen[name] < ARGON2_FLOOR[name]) {
      throw new RangeError(`argon2 ${name} must be an integer of at least ${ARGON2_FLOOR[name]}`);
    }
  }
  return chosen;
};

// NIST SP 800-63B §5.1.1.2: the same password typed on two keyboards (composed or decomposed accents,
// full-width letters) must verify. Nothing is trimmed or truncated.
const normalise = (password: string): string => password.normalize('NFKC');

/**
 * The application's ports: what command handlers need from the outside world, and nothing about how it is
 * done. Adapters live in `src/infrastructure`; tests build fakes by hand. No port ever returns or logs a
 * secret (a password, a raw key); the raw tokens returned by `issue`/`derive`/`sign` exist only to be handed
 * to the user, and only their hashes are ever stored (docs/design.md, "Personal data and secrets in events").
 */

/** The time. Handlers read it once per command and pass it into `decide`, which stays pure. */
export interface Clock {
  now(): Date;
}

/** Fresh identifiers (RFC 9562 version 4 UUIDs, lower case). */
export interface Ids {
  uuid(): string;
}

/**
 * Password hashing (argon2id). Passwords are compared after Unicode NFKC normalisation (NIST SP 800-63B
 * §5.1.1.2), never trimmed or truncated. The hasher enforces no policy: `PasswordPolicy` runs first.
 */
export interface PasswordHasher {
  /** A self-describing PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a stored hash that cannot be read (fail closed). */
  verify(hash: string, password: string): Promise<boolean>;
  /** True when the stored hash was made with weaker parameters than configured: rehash after a good login. */
  needsRehash(hash: string): boolean;
  /**
   * Verifies against a hash made at start-up and ignores the answer, so a login for an unknown email costs
   * the same time as one for a known email (OWASP ASVS 2.2 / CWE-208: no account enumeration by timing).
   */
  verifyDummy(password: string): Promise<void>;
}

/** Why a new password was refused (contract code `weak-password`); every applicable reason is listed. */
export type WeakPasswordReason = 'too-short' | 'too-long' | 'common' | 'contains-email';

/**
 * The password policy (NIST SP 800-63B §5.1.1.2, OWASP ASVS 2.1): a length window counted in code points,
 * a common-password list, and the account's email. No composition rules. Runs BEFORE any hashing.
 */
export interface PasswordPolicy {
  check(password: string, context: { email: string }): WeakPasswordReason[];
}

/**
 * Personal data sealed with a per-user key (AES-256-GCM), so erasure is deleting the key (crypto-shredding,
 * docs/design.md). Sealed values look like `pii:v1:<iv>.<ciphertext>.<tag>` (base64url) and are bound to
 * their user: a value copied into another user's event does not open.
 */
export interface PersonalDataVault {
  /** Creates the user's data key; idempotent (a retried registration keeps the first key). */
  createKey(userId: string): Promise<void>;
  /** Throws `SealedDataError('pii-key-missing')` when the user has no key (never created, or erased). */
  seal(userId: string, plaintext: string): Promise<string>;
  /**
   * The plaintext, or null once the user is erased (callers show `[erased]`). Anything that is not a
   * well-formed sealed value of this user throws `SealedDataError`: a plaintext in an event is a defect to
   * fix at the writer, not something to pass through, because it would survive erasure.
   */
  open(userId: string, sealed: string): Promise<string | null>;
  /** Deletes the user's key everywhere this process can reach; idempotent. */
  erase(userId: string): Promise<void>;
}

export type SealedDataErrorCode = 'pii-not-sealed' | 'pii-unreadable' | 'pii-key-missing';

/**
 * A sealed value that cannot be opened for a reason other than erasure: not a sealed value, tampered with,
 * sealed for another user, or sealed under another master key.
 */
export class SealedDataError extends Error {
  constructor(readonly code: SealedDataErrorCode) {
    super(`sealed personal data error: ${code}`);
    this.name = 'SealedDataError';
  }
}

export type OneTimeTokenKind = 'verify-email' | 'reset-password' | 'confirm-email';

/**
 * Email-verification and password-reset tokens, derived rather than stored (docs/design.md, "One-time
 * tokens"): the event holds `tokenId` and `tokenHash`; the mail consumer calls `issue` again to rebuild the
 * same token. A token names its user, so the request path finds the account without a lookup table.
 */
export interface OneTimeTokens {
  issue(kind: OneTimeTokenKind, userId: string, tokenId: string): { token: string; tokenHash: string };
  /** The user the token names, or null when it is not a token of this shape. Proves nothing by itself. */
  parse(token: string): { userId: string } | null;
  /** SHA-256 of the token, hex: the only form ever stored. */
  hash(token: string): string;
  /** Constant-time check of a presented token against a stored `tokenHash`. */
  matches(token: string, tokenHash: string): boolean;
}

/**
 * Refresh tokens derived from the session (docs/design.md, "Sessions and refresh tokens"): generation n's
 * token is a pure function of (session, n, nonce), so a retried parent gets the SAME successor every time.
 */
export interface RefreshTokens {
  /** `nonce` is the session's non-secret random value recorded when it started (e.g. `Ids.uuid()`). */
  derive(sessionId: string, generation: number, nonce: string): { token: string; tokenHash: string };
  /** The session and generation the token claims, or null when it is not a token of this shape. */
  parse(token: string): { sessionId: string; generation: number } | null;
  hash(token: string): string;
  /** Constant-time check of a presented token against a recorded `tokenHash`. */
  matches(token: string, tokenHash: string): boolean;
}

/** Claims of a verified access token (RFC 9068 profile; `sub` is the user id, never the email). */
export type AccessTokenClaims = {
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  jti: string;
  roles: string[];
  iat: number;
  exp: number;
};

/** A public signing key as published at `/.well-known/jwks.json` (RFC 7517): public members only. */
export type PublicJwk = {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  use: 'sig';
  alg: 'ES256';
};

/** Access tokens: ES256 JWTs with header `typ: at+jwt` and a `kid` of ours. */
export interface AccessTokens {
  sign(claims: {
    sub: string;
    sid: string;
    roles: readonly string[];
  }): Promise<{ token: string; expiresIn: number; jti: string }>;
  /**
   * The token's claims once signature, algorithm, type, issuer, audience and lifetime all check out. Says
   * nothing about the session: the caller still checks that it is alive and the user active. Throws
   * `InvalidAccessTokenError` for every failure.
   */
  verify(token: string): Promise<AccessTokenClaims>;
  jwks(): { keys: PublicJwk[] };
}

/**
 * One error for every reason an access token is refused, so callers cannot leak which check failed
 * (contract: 401 `invalid-token`). `reason` is for logs and metrics; it never carries token content.
 */
export class InvalidAccessTokenError extends Error {
  readonly code = 'invalid-token';
  constructor(readonly reason: string) {
    super('invalid access token');
    this.name = 'InvalidAccessTokenError';
  }
}

/** Keys for the `email-<hmac>` reservation streams (docs/design.md, "Email uniqueness"). */
export interface EmailKeys {
  /** Hex HMAC-SHA256 of an address already passed through `canonicalEmail`. */
  reservationKey(canonicalEmail: string): string;
}

/**
 * Who else holds `admin`, for the rule that the service never loses its last admin (CONTRACT.md
 * "Administration"). Candidates come from a read model and are checked again on their own streams.
 */
export interface AdminDirectory {
  /** Ids of the accounts the read model shows holding `admin`, the stale ones included. */
  adminCandidates(): Promise<string[]>;
  /**
   * Runs `fn` while no other revocation of `admin` runs, on any instance, so two admins revoking each other
   * at once cannot both count the other as the one who remains.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Structured logging (pino's shape): an object of fields, then a message. Fields never hold a secret or
 * personal data beyond ids.
 */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * Stable, greppable codes for broken rules. The API maps each one to a problem once (src/api/errors.ts);
 * a code never changes meaning once released.
 */
export const DOMAIN_ERROR_CODES = [
  'user-not-found',
  'user-erased',
  'user-deactivated',
  'conflict',
  'invalid-or-expired-token',
  'invalid-refresh-token',
  'session-not-found',
  'session-ended',
  'email-taken',
  'unknown-role',
] as const;

export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string = code,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const isDomainError = (error: unknown, code?: DomainErrorCode): error is DomainError =>
  error instanceof DomainError && (code === undefined || error.code === code);

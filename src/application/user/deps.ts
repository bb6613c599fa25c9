import type { EventStore } from '../event-store';
import type {
  Clock,
  EmailKeys,
  Ids,
  OneTimeTokens,
  PasswordHasher,
  PasswordPolicy,
  PersonalDataVault,
  WeakPasswordReason,
} from '../ports';

/** The settings the account commands read; the service configuration satisfies it as it is. */
export type AccountSettings = {
  requireVerifiedEmail: boolean;
  registrationRevealsExisting: boolean;
  bootstrapAdminEmail?: string | undefined;
  tokens: { verificationTtlSeconds: number; resetTtlSeconds: number; invitationTtlSeconds: number };
};

/** What the account command handlers need; the service graph satisfies it as it is. */
export type AccountDeps = {
  store: EventStore;
  clock: Clock;
  ids: Ids;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  vault: PersonalDataVault;
  oneTimeTokens: OneTimeTokens;
  emailKeys: EmailKeys;
  config: AccountSettings;
};

/**
 * A new password refused by the policy (contract code `weak-password`). `field` names the request member
 * it came in, so the answer can point at it; the password itself is never carried.
 */
export class WeakPasswordError extends Error {
  readonly code = 'weak-password';
  constructor(
    readonly field: string,
    readonly reasons: WeakPasswordReason[],
  ) {
    super('The password does not meet the policy');
    this.name = 'WeakPasswordError';
  }
}

/** Not one plausible address; the API's schema refuses it first, so this guards other callers. */
export class InvalidEmailError extends Error {
  readonly code = 'validation-failed';
  constructor() {
    super('Not a valid email address');
    this.name = 'InvalidEmailError';
  }
}

/** The sealed value opened, or null once the user is erased; what a profile or a mail needs. */
export const openSealed = (
  deps: Pick<AccountDeps, 'vault'>,
  userId: string,
  sealed: string | null,
): Promise<string | null> => (sealed === null ? Promise.resolve(null) : deps.vault.open(userId, sealed));

export const addSeconds = (date: Date, seconds: number): Date => new Date(date.getTime() + seconds * 1000);

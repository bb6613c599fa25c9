import { toTimestamp, unreachable } from '../shared/decider';
import { DomainError } from '../shared/errors';
import type { RegisterUser, ResendVerification, VerifyEmail } from './commands';
import type { EmailVerificationRequested, UserEvent } from './events';
import { invalidToken, requireTokenHolder, requireUsableAccount, type UserState } from './state';
import { isThrottled, isTokenValid, tokenEventData, type OneTimeToken } from './tokens';

/**
 * The verification mail to ask for now, if any: the SAME token while it lives (a held-back mail never
 * leaves the user with a dead link), a fresh one after it expired, nothing inside the throttle window.
 */
const verificationRequest = (
  outstanding: OneTimeToken | null,
  fresh: Omit<OneTimeToken, 'requestedAt'>,
  now: Date,
): EmailVerificationRequested[] => {
  if (isThrottled(outstanding?.requestedAt ?? null, now)) return [];
  const token =
    outstanding !== null && now.getTime() < outstanding.expiresAt.getTime()
      ? { ...outstanding, requestedAt: now }
      : { ...fresh, requestedAt: now };
  return [{ type: 'EmailVerificationRequested', data: tokenEventData(token) }];
};

export const decideRegisterUser = ({ data }: RegisterUser, state: UserState): UserEvent[] => {
  const fresh = {
    tokenId: data.verificationTokenId,
    tokenHash: data.verificationTokenHash,
    expiresAt: data.verificationExpiresAt,
  };
  const username = data.username !== undefined ? { username: data.username } : {};
  switch (state.status) {
    case 'initial': {
      const registered: UserEvent = {
        type: 'UserRegistered',
        data: {
          userId: data.userId,
          email: data.email,
          ...username,
          passwordHash: data.passwordHash,
          registeredAt: toTimestamp(data.now),
        },
      };
      return data.requireVerification
        ? [registered, ...verificationRequest(null, fresh, data.now)]
        : [registered, { type: 'EmailVerified', data: { at: toTimestamp(data.now) } }];
    }
    case 'pending_verification':
      // Whoever registered first never proved the address: their password must not survive.
      return [
        { type: 'PendingRegistrationReplaced', data: { passwordHash: data.passwordHash, ...username } },
        ...verificationRequest(state.verification, fresh, data.now),
      ];
    case 'active':
    case 'deactivated':
      return isThrottled(state.lastDuplicateNoticeAt, data.now)
        ? []
        : [{ type: 'DuplicateRegistrationAttempted', data: { at: toTimestamp(data.now) } }];
    case 'erased':
      throw new DomainError('user-erased', 'The account was erased');
    default:
      return unreachable(state);
  }
};

export const decideVerifyEmail = ({ data }: VerifyEmail, state: UserState): UserEvent[] => {
  const account = requireTokenHolder(state);
  if (account.emailVerified) {
    if (account.verifiedWithTokenHash === data.tokenHash) return [];
    throw invalidToken();
  }
  if (!isTokenValid(account.verification, data.tokenHash, data.now)) throw invalidToken();
  return [{ type: 'EmailVerified', data: { at: toTimestamp(data.now) } }];
};

export const decideResendVerification = ({ data }: ResendVerification, state: UserState): UserEvent[] => {
  const account = requireUsableAccount(state);
  if (account.emailVerified) return [];
  return verificationRequest(
    account.verification,
    { tokenId: data.newTokenId, tokenHash: data.newTokenHash, expiresAt: data.newExpiresAt },
    data.now,
  );
};

import { toTimestamp } from '../shared/decider';
import type { ConfirmEmailChange, RequestEmailChange } from './commands';
import type { UserEvent } from './events';
import { invalidToken, requireTokenHolder, requireUsableAccount, type UserState } from './state';
import { isThrottled, isTokenValid, tokenEventData } from './tokens';

/**
 * Changing the address (CONTRACT.md "Pages a person opens", account self-service). The request records
 * the new address (sealed) and a token; nothing changes until the link is confirmed, so the old address
 * stays the account's (and reserved) until then. One confirmation mail a minute at most (the throttle of
 * every mailed link); a newer request supersedes the older token.
 */
export const decideRequestEmailChange = ({ data }: RequestEmailChange, state: UserState): UserEvent[] => {
  const account = requireUsableAccount(state);
  if (isThrottled(account.pendingEmailChange?.requestedAt ?? null, data.now)) return [];
  const token = {
    tokenId: data.tokenId,
    tokenHash: data.tokenHash,
    expiresAt: data.expiresAt,
    requestedAt: data.now,
  };
  return [{ type: 'EmailChangeRequested', data: { ...tokenEventData(token), newEmail: data.newEmail } }];
};

/** Single use, expiring, superseded by a newer request: as every mailed link. */
export const decideConfirmEmailChange = ({ data }: ConfirmEmailChange, state: UserState): UserEvent[] => {
  const account = requireTokenHolder(state);
  const pending = account.pendingEmailChange;
  if (pending === null || !isTokenValid(pending, data.tokenHash, data.now)) throw invalidToken();
  return [
    {
      type: 'EmailChanged',
      data: { email: pending.newEmail, tokenId: pending.tokenId, at: toTimestamp(data.now) },
    },
  ];
};

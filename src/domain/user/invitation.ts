import { fromTimestamp, toTimestamp } from '../shared/decider';
import { DomainError } from '../shared/errors';
import type { AcceptInvitation, InviteUser, RevokeInvitation } from './commands';
import type { InvitationAccepted, InvitationRevoked, UserEvent, UserInvited } from './events';
import { invalidToken, pendingAccount, requireAccount, requireTokenHolder, type UserState } from './state';
import { isTokenValid } from './tokens';

/**
 * Admin invitations (CONTRACT.md "Pages a person opens"): the account is created pending, holding its
 * address and roles, with a set-password link that works once and expires; the invitee's password makes
 * it active and verified (the link proved the mailbox). A revoked invitation's link stops working.
 */
export const decideInviteUser = ({ data }: InviteUser, state: UserState): UserEvent[] => {
  if (state.status !== 'initial') throw new DomainError('conflict', 'The account exists already');
  return [
    {
      type: 'UserInvited',
      data: {
        userId: data.userId,
        email: data.email,
        passwordHash: data.passwordHash,
        tokenId: data.tokenId,
        tokenHash: data.tokenHash,
        expiresAt: toTimestamp(data.expiresAt),
        invitedAt: toTimestamp(data.now),
      },
    },
    ...data.roles.map((role): UserEvent => ({ type: 'RoleGranted', data: { role } })),
  ];
};

export const decideAcceptInvitation = ({ data }: AcceptInvitation, state: UserState): UserEvent[] => {
  const account = requireTokenHolder(state);
  if (account.invitation === null || !isTokenValid(account.invitation, data.tokenHash, data.now)) {
    throw invalidToken();
  }
  return [
    {
      type: 'InvitationAccepted',
      data: {
        passwordHash: data.newPasswordHash,
        tokenId: account.invitation.tokenId,
        at: toTimestamp(data.now),
      },
    },
  ];
};

/** Only an invitation not yet accepted can be revoked; once its account is erased, again records nothing. */
export const decideRevokeInvitation = ({ data }: RevokeInvitation, state: UserState): UserEvent[] => {
  if (state.status === 'erased') return [];
  const account = requireAccount(state);
  if (account.invitation === null) {
    throw new DomainError('conflict', 'There is no open invitation: it was accepted or never made');
  }
  return [
    { type: 'InvitationRevoked', data: { tokenId: account.invitation.tokenId, at: toTimestamp(data.now) } },
  ];
};

export const applyInvitation = (
  state: UserState,
  event: UserInvited | InvitationAccepted | InvitationRevoked,
  revision: number,
): UserState => {
  switch (event.type) {
    case 'UserInvited': {
      if (state.status !== 'initial') return state;
      const { data } = event;
      return pendingAccount({
        revision,
        userId: data.userId,
        email: data.email,
        username: null,
        passwordHash: data.passwordHash,
        registeredAt: fromTimestamp(data.invitedAt),
        invitation: {
          tokenId: data.tokenId,
          tokenHash: data.tokenHash,
          expiresAt: fromTimestamp(data.expiresAt),
          requestedAt: fromTimestamp(data.invitedAt),
        },
      });
    }
    case 'InvitationAccepted':
      if (state.status !== 'pending_verification' && state.status !== 'active') return state;
      return {
        ...state,
        status: 'active',
        passwordHash: event.data.passwordHash,
        emailVerified: true,
        verification: null,
        invitation: null,
      };
    case 'InvitationRevoked':
      if (state.status === 'initial' || state.status === 'erased') return state;
      return { ...state, invitation: null };
    default:
      return state;
  }
};

export const decideInvitation = (
  command: InviteUser | AcceptInvitation | RevokeInvitation,
  state: UserState,
): UserEvent[] => {
  switch (command.type) {
    case 'InviteUser':
      return decideInviteUser(command, state);
    case 'AcceptInvitation':
      return decideAcceptInvitation(command, state);
    case 'RevokeInvitation':
      return decideRevokeInvitation(command, state);
  }
};

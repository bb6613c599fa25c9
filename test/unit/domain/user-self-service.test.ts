import { userDecider } from '../../../src/domain/user/decider';
import type { UserEvent } from '../../../src/domain/user/events';
import { deciderSpec } from '../../support/decider-spec';
import { activeUser, at, HASH_2, HOUR, iso, MINUTE, stateOf, USER_ID } from './user-fixtures';

const spec = deciderSpec(userDecider);
const TOKEN = 'f'.repeat(64);
const TOKEN_ID = '0b8e3a5c-1d2f-4e6a-8b9c-0d1e2f3a4b5c';
const NEW_EMAIL = 'pii:v1:iv.new-email.tag';

const requested = (atMs: number, tokenId = TOKEN_ID, tokenHash = TOKEN): UserEvent => ({
  type: 'EmailChangeRequested',
  data: { tokenId, tokenHash, expiresAt: iso(atMs + 24 * HOUR), requestedAt: iso(atMs), newEmail: NEW_EMAIL },
});

describe('email change (decider)', () => {
  const request = (nowMs: number) =>
    ({
      type: 'RequestEmailChange',
      data: {
        tokenId: TOKEN_ID,
        tokenHash: TOKEN,
        expiresAt: at(nowMs + 24 * HOUR),
        newEmail: NEW_EMAIL,
        now: at(nowMs),
      },
    }) as const;
  const confirm = (nowMs: number, tokenHash = TOKEN) =>
    ({ type: 'ConfirmEmailChange', data: { tokenHash, now: at(nowMs) } }) as const;

  it('records the request; a second within the mail throttle records nothing', () => {
    spec
      .given(activeUser)
      .when(request(HOUR))
      .then([requested(HOUR)]);
    spec
      .given([...activeUser, requested(HOUR)])
      .when(request(HOUR + 30_000))
      .thenNothing();
  });

  it('confirms with the token: the address changes, once', () => {
    const history = [...activeUser, requested(HOUR)];
    spec
      .given(history)
      .when(confirm(HOUR + MINUTE))
      .then([
        { type: 'EmailChanged', data: { email: NEW_EMAIL, tokenId: TOKEN_ID, at: iso(HOUR + MINUTE) } },
      ]);
    const after = [...history, ...userDecider.decide(confirm(HOUR + MINUTE), stateOf(history)).events];
    expect(stateOf(after)).toMatchObject({ email: NEW_EMAIL, emailVerified: true, pendingEmailChange: null });
    spec
      .given(after)
      .when(confirm(HOUR + 2 * MINUTE))
      .thenThrows('invalid-or-expired-token');
  });

  it('refuses a wrong, superseded or expired token', () => {
    const history = [...activeUser, requested(HOUR)];
    spec
      .given(history)
      .when(confirm(HOUR, 'e'.repeat(64)))
      .thenThrows('invalid-or-expired-token');
    spec
      .given(history)
      .when(confirm(HOUR + 25 * HOUR))
      .thenThrows('invalid-or-expired-token');
    const superseded = [...history, requested(HOUR + 2 * MINUTE, USER_ID, 'd'.repeat(64))];
    spec
      .given(superseded)
      .when(confirm(HOUR + 3 * MINUTE))
      .thenThrows('invalid-or-expired-token');
  });
});

describe('invitations (decider)', () => {
  const invite = {
    type: 'InviteUser',
    data: {
      userId: USER_ID,
      email: NEW_EMAIL,
      passwordHash: 'pii:v1:iv.placeholder.tag',
      tokenId: TOKEN_ID,
      tokenHash: TOKEN,
      expiresAt: at(7 * 24 * HOUR),
      roles: ['events:read'],
      now: at(0),
    },
  } as const;
  const invited = userDecider.decide(invite, stateOf([])).events;
  const accept = (nowMs: number) =>
    ({
      type: 'AcceptInvitation',
      data: { tokenHash: TOKEN, newPasswordHash: HASH_2, now: at(nowMs) },
    }) as const;

  it('creates a pending account with its roles; the password makes it active and verified, once', () => {
    expect(invited.map((e) => e.type)).toEqual(['UserInvited', 'RoleGranted']);
    expect(stateOf(invited)).toMatchObject({ status: 'pending_verification', roles: ['events:read'] });
    const accepted = [...invited, ...userDecider.decide(accept(HOUR), stateOf(invited)).events];
    expect(stateOf(accepted)).toMatchObject({ status: 'active', emailVerified: true, passwordHash: HASH_2 });
    spec
      .given(accepted)
      .when(accept(2 * HOUR))
      .thenThrows('invalid-or-expired-token');
  });

  it('expires after its time, and a revoked one cannot be accepted', () => {
    spec
      .given(invited)
      .when(accept(8 * 24 * HOUR))
      .thenThrows('invalid-or-expired-token');
    const revoked = [
      ...invited,
      { type: 'InvitationRevoked', data: { tokenId: TOKEN_ID, at: iso(HOUR) } } as const,
    ];
    spec
      .given(revoked)
      .when(accept(2 * HOUR))
      .thenThrows('invalid-or-expired-token');
    spec
      .given(activeUser)
      .when({ type: 'RevokeInvitation', data: { now: at(HOUR) } })
      .thenThrows('conflict');
  });
});

import { userDecider } from '../../../src/domain/user/decider';
import type { RegisterUser, ResendVerification, VerifyEmail } from '../../../src/domain/user/commands';
import { deciderSpec } from '../../support/decider-spec';
import {
  activeUser,
  at,
  deactivatedUser,
  EMAIL,
  emailVerified,
  erasedUser,
  HASH_1,
  HASH_2,
  HOUR,
  iso,
  MINUTE,
  pendingUser,
  registered,
  SECOND,
  USER_ID,
  USERNAME,
  VERIFICATION_TTL,
  verificationRequested,
} from './user-fixtures';

const spec = deciderSpec(userDecider);

const register = (nowMs: number, overrides: Partial<RegisterUser['data']> = {}): RegisterUser => ({
  type: 'RegisterUser',
  data: {
    userId: USER_ID,
    email: EMAIL,
    passwordHash: HASH_1,
    verificationTokenId: 'vt-1',
    verificationTokenHash: 'vh-1',
    verificationExpiresAt: at(nowMs + VERIFICATION_TTL),
    requireVerification: true,
    now: at(nowMs),
    ...overrides,
  },
});

/** A second registration of the same address: another password, another would-be token. */
const registerAgain = (nowMs: number, overrides: Partial<RegisterUser['data']> = {}): RegisterUser =>
  register(nowMs, {
    userId: 'another-new-id',
    passwordHash: HASH_2,
    verificationTokenId: 'vt-2',
    verificationTokenHash: 'vh-2',
    ...overrides,
  });

const verify = (tokenHash: string, nowMs: number): VerifyEmail => ({
  type: 'VerifyEmail',
  data: { tokenHash, now: at(nowMs) },
});

const resend = (nowMs: number): ResendVerification => ({
  type: 'ResendVerification',
  data: {
    newTokenId: 'vt-2',
    newTokenHash: 'vh-2',
    newExpiresAt: at(nowMs + VERIFICATION_TTL),
    now: at(nowMs),
  },
});

describe('RegisterUser', () => {
  it('registers a new account pending verification and asks for the verification mail', () => {
    spec
      .given([])
      .when(register(0, { username: USERNAME }))
      .then([
        {
          type: 'UserRegistered',
          data: {
            userId: USER_ID,
            email: EMAIL,
            username: USERNAME,
            passwordHash: HASH_1,
            registeredAt: iso(0),
          },
        },
        {
          type: 'EmailVerificationRequested',
          data: { tokenId: 'vt-1', tokenHash: 'vh-1', expiresAt: iso(VERIFICATION_TTL), requestedAt: iso(0) },
        },
      ]);
  });

  it('records no username member when none was given', () => {
    spec.given([]).when(register(0)).then([registered(), verificationRequested()]);
  });

  it('starts the account active and verified when verification is not required', () => {
    const given = spec.given([]).when(register(0, { requireVerification: false }));
    given.then([registered(), { type: 'EmailVerified', data: { at: iso(0) } }]);
    expect(given.thenState()).toMatchObject({ status: 'active', emailVerified: true, verification: null });
  });

  describe('an address still pending verification', () => {
    it('replaces the pending password and username, and repeats the same, still valid token', () => {
      spec
        .given([registered({ username: USERNAME }), verificationRequested()])
        .when(registerAgain(10 * MINUTE))
        .then([
          { type: 'PendingRegistrationReplaced', data: { passwordHash: HASH_2 } },
          verificationRequested('vt-1', 'vh-1', 10 * MINUTE, VERIFICATION_TTL),
        ]);
    });

    it('keeps no trace of the first registrant: the latest password and username win', () => {
      const state = spec
        .given([registered({ username: USERNAME }), verificationRequested()])
        .when(registerAgain(10 * MINUTE))
        .thenState();
      expect(state).toMatchObject({
        status: 'pending_verification',
        passwordHash: HASH_2,
        username: null,
        userId: USER_ID,
      });
    });

    it('records the new username when one is given', () => {
      spec
        .given(pendingUser)
        .when(registerAgain(10 * MINUTE, { username: 'pii:v1:iv.other-name.tag' }))
        .then([
          {
            type: 'PendingRegistrationReplaced',
            data: { passwordHash: HASH_2, username: 'pii:v1:iv.other-name.tag' },
          },
          verificationRequested('vt-1', 'vh-1', 10 * MINUTE, VERIFICATION_TTL),
        ]);
    });

    it('holds the mail back within 60 s of the previous one but still replaces the password', () => {
      spec
        .given(pendingUser)
        .when(registerAgain(59 * SECOND))
        .then([{ type: 'PendingRegistrationReplaced', data: { passwordHash: HASH_2 } }]);
    });

    it('sends again at exactly 60 s', () => {
      spec
        .given(pendingUser)
        .when(registerAgain(60 * SECOND))
        .then([
          { type: 'PendingRegistrationReplaced', data: { passwordHash: HASH_2 } },
          verificationRequested('vt-1', 'vh-1', 60 * SECOND, VERIFICATION_TTL),
        ]);
    });

    it('issues the new token once the pending one has expired', () => {
      spec
        .given(pendingUser)
        .when(registerAgain(VERIFICATION_TTL))
        .then([
          { type: 'PendingRegistrationReplaced', data: { passwordHash: HASH_2 } },
          verificationRequested('vt-2', 'vh-2', VERIFICATION_TTL, 2 * VERIFICATION_TTL),
        ]);
    });

    it('leaves the pending token valid', () => {
      spec
        .given([...pendingUser, { type: 'PendingRegistrationReplaced', data: { passwordHash: HASH_2 } }])
        .when(verify('vh-1', 20 * MINUTE))
        .then([emailVerified(20 * MINUTE)]);
    });
  });

  describe('an address already taken', () => {
    it('records the attempt so the owner gets a notice', () => {
      spec
        .given(activeUser)
        .when(registerAgain(HOUR))
        .then([{ type: 'DuplicateRegistrationAttempted', data: { at: iso(HOUR) } }]);
    });

    it('records at most one attempt per 60 s', () => {
      const noticed = [
        ...activeUser,
        { type: 'DuplicateRegistrationAttempted', data: { at: iso(HOUR) } } as const,
      ];
      spec
        .given(noticed)
        .when(registerAgain(HOUR + 59 * SECOND))
        .thenNothing();
      spec
        .given(noticed)
        .when(registerAgain(HOUR + 60 * SECOND))
        .then([{ type: 'DuplicateRegistrationAttempted', data: { at: iso(HOUR + 60 * SECOND) } }]);
    });

    it('never touches the verified account', () => {
      const state = spec.given(activeUser).when(registerAgain(HOUR)).thenState();
      expect(state).toMatchObject({ status: 'active', passwordHash: HASH_1 });
    });

    it('records the attempt for a deactivated account too', () => {
      spec
        .given(deactivatedUser)
        .when(registerAgain(2 * HOUR))
        .then([{ type: 'DuplicateRegistrationAttempted', data: { at: iso(2 * HOUR) } }]);
    });
  });

  it('refuses an erased account', () => {
    spec
      .given(erasedUser)
      .when(register(2 * HOUR))
      .thenThrows('user-erased');
  });
});

describe('VerifyEmail', () => {
  it('verifies with the outstanding token', () => {
    const given = spec.given(pendingUser).when(verify('vh-1', HOUR));
    given.then([emailVerified(HOUR)]);
    expect(given.thenState()).toMatchObject({ status: 'active', emailVerified: true, verification: null });
  });

  it('refuses an unknown token', () => {
    spec.given(pendingUser).when(verify('vh-x', HOUR)).thenThrows('invalid-or-expired-token');
  });

  it('refuses the token at its expiry', () => {
    spec.given(pendingUser).when(verify('vh-1', VERIFICATION_TTL)).thenThrows('invalid-or-expired-token');
  });

  it('accepts the token just before its expiry', () => {
    spec
      .given(pendingUser)
      .when(verify('vh-1', VERIFICATION_TTL - 1))
      .then([emailVerified(VERIFICATION_TTL - 1)]);
  });

  it('refuses a token superseded by a newer one', () => {
    const reissued = [
      ...pendingUser,
      verificationRequested('vt-2', 'vh-2', VERIFICATION_TTL, 2 * VERIFICATION_TTL),
    ];
    spec
      .given(reissued)
      .when(verify('vh-1', VERIFICATION_TTL + HOUR))
      .thenThrows('invalid-or-expired-token');
    spec
      .given(reissued)
      .when(verify('vh-2', VERIFICATION_TTL + HOUR))
      .then([emailVerified(VERIFICATION_TTL + HOUR)]);
  });

  it('does nothing when repeated with the token that verified, even after its expiry', () => {
    spec
      .given(activeUser)
      .when(verify('vh-1', 2 * MINUTE))
      .thenNothing();
    spec
      .given(activeUser)
      .when(verify('vh-1', 2 * VERIFICATION_TTL))
      .thenNothing();
  });

  it('refuses another token once verified', () => {
    spec
      .given(activeUser)
      .when(verify('vh-2', 2 * MINUTE))
      .thenThrows('invalid-or-expired-token');
  });

  it('refuses any token for an account that started verified', () => {
    spec
      .given([registered(), emailVerified(0)])
      .when(verify('vh-1', MINUTE))
      .thenThrows('invalid-or-expired-token');
  });

  it('answers like a bad token for a missing or erased account', () => {
    spec.given([]).when(verify('vh-1', HOUR)).thenThrows('invalid-or-expired-token');
    spec
      .given(erasedUser)
      .when(verify('vh-1', 2 * HOUR))
      .thenThrows('invalid-or-expired-token');
  });

  it('refuses a deactivated account', () => {
    spec
      .given([...pendingUser, { type: 'UserDeactivated', data: { at: iso(MINUTE) } }])
      .when(verify('vh-1', HOUR))
      .thenThrows('user-deactivated');
  });
});

describe('ResendVerification', () => {
  it('repeats the same token with a new request time while it lives', () => {
    spec
      .given(pendingUser)
      .when(resend(HOUR))
      .then([verificationRequested('vt-1', 'vh-1', HOUR, VERIFICATION_TTL)]);
  });

  it('sends nothing within 60 s of the previous request', () => {
    spec
      .given(pendingUser)
      .when(resend(59 * SECOND))
      .thenNothing();
  });

  it('counts the 60 s from the latest request', () => {
    spec
      .given([...pendingUser, verificationRequested('vt-1', 'vh-1', HOUR, VERIFICATION_TTL)])
      .when(resend(HOUR + 30 * SECOND))
      .thenNothing();
  });

  it('issues the new token once the outstanding one has expired', () => {
    spec
      .given(pendingUser)
      .when(resend(VERIFICATION_TTL))
      .then([verificationRequested('vt-2', 'vh-2', VERIFICATION_TTL, 2 * VERIFICATION_TTL)]);
  });

  it('does nothing for a verified address', () => {
    spec.given(activeUser).when(resend(HOUR)).thenNothing();
  });

  it('refuses a missing, erased or deactivated account', () => {
    spec.given([]).when(resend(HOUR)).thenThrows('user-not-found');
    spec
      .given(erasedUser)
      .when(resend(2 * HOUR))
      .thenThrows('user-erased');
    spec
      .given(deactivatedUser)
      .when(resend(2 * HOUR))
      .thenThrows('user-deactivated');
  });
});

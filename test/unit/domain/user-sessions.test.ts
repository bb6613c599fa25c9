import { fold } from '../../../src/domain/shared/decider';
import { userDecider } from '../../../src/domain/user/decider';
import type { UserEvent } from '../../../src/domain/user/events';
import { isSessionAlive } from '../../../src/domain/user/sessions';
import {
  activeUser,
  deactivatedUser,
  erasedUser,
  HASH_2,
  HOUR,
  iso,
  pendingUser,
  resetRequested,
  stateOf,
} from './user-fixtures';

// activeUser is revisions 0..2; the event appended next is revision 3.
const T = 2 * HOUR;
const before = { sessionId: 'before', startedAtUserRevision: 2 };
const allEnded: UserEvent = { type: 'AllSessionsEnded', data: { at: iso(T), reason: 'logout_all' } };
const passwordChanged = (keepSessionId: string): UserEvent => ({
  type: 'PasswordChanged',
  data: { passwordHash: HASH_2, keepSessionId, at: iso(T) },
});

describe('revision tracking', () => {
  it('starts at -1 before the stream exists', () => {
    expect(stateOf([]).revision).toBe(-1);
  });

  it('is the revision of the last event folded in', () => {
    expect(stateOf(activeUser).revision).toBe(2);
    expect(stateOf([...activeUser, allEnded]).revision).toBe(3);
  });

  it('records the cut-off at the revision of the event that set it', () => {
    expect(
      stateOf([...activeUser, allEnded, { type: 'RoleGranted', data: { role: 'admin' } }]),
    ).toMatchObject({
      revision: 4,
      sessionsCutOff: { revision: 3, survivorSessionId: null, reason: 'logout_all' },
    });
  });

  it('counts an event type it does not know', () => {
    const unknown = { type: 'SomethingNewer', data: {} } as unknown as UserEvent;
    expect(stateOf([...activeUser, unknown])).toMatchObject({ revision: 3, status: 'active' });
  });

  it('continues a fold from a state as if folded in one go', () => {
    expect(fold(userDecider, [allEnded], stateOf(activeUser))).toStrictEqual(
      stateOf([...activeUser, allEnded]),
    );
  });
});

describe('isSessionAlive', () => {
  it('keeps a session alive while nothing ended it', () => {
    expect(isSessionAlive(stateOf(activeUser), before)).toBe(true);
  });

  it('keeps a session of an account pending verification alive', () => {
    expect(isSessionAlive(stateOf(pendingUser), { sessionId: 's', startedAtUserRevision: 1 })).toBe(true);
  });

  describe('after logout-all', () => {
    const user = stateOf([...activeUser, allEnded]);

    it('ends a session that started before it', () => {
      expect(isSessionAlive(user, before)).toBe(false);
    });

    it('keeps a session that started on the cut-off revision itself', () => {
      expect(isSessionAlive(user, { sessionId: 'at', startedAtUserRevision: 3 })).toBe(true);
    });

    it('keeps a session that started after it', () => {
      const later = stateOf([...activeUser, allEnded, { type: 'RoleGranted', data: { role: 'admin' } }]);
      expect(isSessionAlive(later, { sessionId: 'after', startedAtUserRevision: 4 })).toBe(true);
    });
  });

  describe('after a password change', () => {
    const user = stateOf([...activeUser, passwordChanged('survivor')]);

    it('keeps the session that made the change', () => {
      expect(isSessionAlive(user, { sessionId: 'survivor', startedAtUserRevision: 1 })).toBe(true);
    });

    it('ends every other session that started before it', () => {
      expect(isSessionAlive(user, before)).toBe(false);
    });

    it('keeps a session that started after it', () => {
      expect(isSessionAlive(user, { sessionId: 'new', startedAtUserRevision: 3 })).toBe(true);
    });

    it('lets a later logout-all end the survivor', () => {
      const later = stateOf([...activeUser, passwordChanged('survivor'), allEnded]);
      expect(isSessionAlive(later, { sessionId: 'survivor', startedAtUserRevision: 1 })).toBe(false);
    });
  });

  it('ends every session on a password reset, the one that asked included', () => {
    const user = stateOf([
      ...activeUser,
      resetRequested('rt-1', 'rh-1', T),
      { type: 'PasswordResetCompleted', data: { passwordHash: HASH_2, tokenId: 'rt-1', at: iso(T) } },
    ]);
    expect(isSessionAlive(user, { sessionId: 'asker', startedAtUserRevision: 3 })).toBe(false);
    expect(isSessionAlive(user, { sessionId: 'new', startedAtUserRevision: 4 })).toBe(true);
  });

  it('ends every session of a deactivated user, and they stay dead after reactivation', () => {
    expect(isSessionAlive(stateOf(deactivatedUser), before)).toBe(false);
    const reactivated = stateOf([...deactivatedUser, { type: 'UserReactivated', data: { at: iso(T) } }]);
    expect(isSessionAlive(reactivated, before)).toBe(false);
    expect(isSessionAlive(reactivated, { sessionId: 'new', startedAtUserRevision: 4 })).toBe(true);
  });

  it('ends every session of an erased user', () => {
    expect(isSessionAlive(stateOf(erasedUser), { sessionId: 'any', startedAtUserRevision: 3 })).toBe(false);
  });

  it('ends the sessions of a replaced pending registration', () => {
    const user = stateOf([
      ...pendingUser,
      { type: 'PendingRegistrationReplaced', data: { passwordHash: HASH_2 } },
    ]);
    expect(isSessionAlive(user, { sessionId: 'squatter', startedAtUserRevision: 1 })).toBe(false);
    expect(isSessionAlive(user, { sessionId: 'owner', startedAtUserRevision: 2 })).toBe(true);
  });

  it('knows no session of a user that does not exist', () => {
    expect(isSessionAlive(stateOf([]), { sessionId: 's', startedAtUserRevision: -1 })).toBe(false);
  });
});

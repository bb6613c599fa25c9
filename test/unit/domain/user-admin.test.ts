import type { UserCommand } from '../../../src/domain/user/commands';
import { userDecider } from '../../../src/domain/user/decider';
import type { UserEvent } from '../../../src/domain/user/events';
import { ROLES, type Role } from '../../../src/domain/user/roles';
import { deciderSpec } from '../../support/decider-spec';
import {
  activeUser,
  at,
  deactivatedUser,
  emailVerified,
  erasedUser,
  HOUR,
  iso,
  pendingUser,
  USER_ID,
  USERNAME,
} from './user-fixtures';

const spec = deciderSpec(userDecider);
const T = 2 * HOUR;

const command = <Type extends UserCommand['type']>(type: Type, data: object = {}) =>
  ({ type, data: { ...data, now: at(T) } }) as Extract<UserCommand, { type: Type }>;

const deactivated = (atMs = HOUR): UserEvent => ({ type: 'UserDeactivated', data: { at: iso(atMs) } });

describe('DeactivateUser', () => {
  it('deactivates an active account', () => {
    spec
      .given(activeUser)
      .when(command('DeactivateUser'))
      .then([{ type: 'UserDeactivated', data: { at: iso(T) } }]);
  });

  it('deactivates an account pending verification', () => {
    spec
      .given(pendingUser)
      .when(command('DeactivateUser'))
      .then([{ type: 'UserDeactivated', data: { at: iso(T) } }]);
  });

  it('does nothing for a deactivated account', () => {
    spec.given(deactivatedUser).when(command('DeactivateUser')).thenNothing();
  });

  it('refuses a missing or erased account', () => {
    spec.given([]).when(command('DeactivateUser')).thenThrows('user-not-found');
    spec.given(erasedUser).when(command('DeactivateUser')).thenThrows('user-erased');
  });
});

describe('ReactivateUser', () => {
  it('reactivates a deactivated account as active when its address is verified', () => {
    const given = spec.given(deactivatedUser).when(command('ReactivateUser'));
    given.then([{ type: 'UserReactivated', data: { at: iso(T) } }]);
    expect(given.thenState()).toMatchObject({ status: 'active' });
  });

  it('reactivates an unverified account as pending verification', () => {
    expect(
      spec
        .given([...pendingUser, deactivated()])
        .when(command('ReactivateUser'))
        .thenState(),
    ).toMatchObject({
      status: 'pending_verification',
    });
  });

  it('does nothing for an account that is not deactivated', () => {
    spec.given(activeUser).when(command('ReactivateUser')).thenNothing();
    spec.given(pendingUser).when(command('ReactivateUser')).thenNothing();
  });

  it('refuses a missing or erased account', () => {
    spec.given([]).when(command('ReactivateUser')).thenThrows('user-not-found');
    spec.given(erasedUser).when(command('ReactivateUser')).thenThrows('user-erased');
  });
});

describe('EraseUser', () => {
  it('erases an account', () => {
    spec
      .given(activeUser)
      .when(command('EraseUser'))
      .then([{ type: 'UserErased', data: { at: iso(T) } }]);
  });

  it('erases a deactivated account', () => {
    spec
      .given(deactivatedUser)
      .when(command('EraseUser'))
      .then([{ type: 'UserErased', data: { at: iso(T) } }]);
  });

  it('keeps nothing personal in the state', () => {
    const state = spec.given(activeUser).when(command('EraseUser')).thenState();
    expect(state).toStrictEqual({
      status: 'erased',
      revision: 3,
      userId: USER_ID,
      erasedAt: at(T),
      sessionsCutOff: { revision: 3, survivorSessionId: null, reason: 'erased' },
    });
  });

  it('does nothing for an erased account', () => {
    spec.given(erasedUser).when(command('EraseUser')).thenNothing();
  });

  it('refuses a missing account', () => {
    spec.given([]).when(command('EraseUser')).thenThrows('user-not-found');
  });
});

describe('GrantRole and RevokeRole', () => {
  const granted = (role: Role): UserEvent => ({ type: 'RoleGranted', data: { role } });

  it('knows exactly the roles of the contract', () => {
    expect(ROLES).toStrictEqual(['admin', 'events:read', 'pii:read']);
  });

  it.each(ROLES)('grants %s', (role) => {
    spec
      .given(activeUser)
      .when(command('GrantRole', { role }))
      .then([granted(role)]);
  });

  it('does nothing when the role is held already', () => {
    spec
      .given([...activeUser, granted('admin')])
      .when(command('GrantRole', { role: 'admin' }))
      .thenNothing();
  });

  it('grants to accounts pending verification and deactivated accounts', () => {
    spec
      .given(pendingUser)
      .when(command('GrantRole', { role: 'admin' }))
      .then([granted('admin')]);
    spec
      .given(deactivatedUser)
      .when(command('GrantRole', { role: 'admin' }))
      .then([granted('admin')]);
  });

  it('refuses a role that does not exist', () => {
    spec
      .given(activeUser)
      .when(command('GrantRole', { role: 'root' }))
      .thenThrows('unknown-role');
    spec
      .given(activeUser)
      .when(command('RevokeRole', { role: 'root' }))
      .thenThrows('unknown-role');
  });

  it('revokes a held role and keeps the others', () => {
    const given = spec
      .given([...activeUser, granted('admin'), granted('pii:read')])
      .when(
        command('RevokeRole', { role: 'admin', roster: { isBootstrapAdmin: false, otherActiveAdmins: 1 } }),
      );
    given.then([{ type: 'RoleRevoked', data: { role: 'admin' } }]);
    expect(given.thenState()).toMatchObject({ roles: ['pii:read'] });
  });

  it('refuses to revoke admin from the last active admin or the bootstrap address, and records why', () => {
    const admin = [...activeUser, granted('admin')];
    const refused = (rule: 'last_admin' | 'bootstrap_admin'): UserEvent => ({
      type: 'AdminCommandRefused',
      data: { command: 'RevokeRole', role: 'admin', rule, at: iso(T) },
    });
    const last = spec
      .given(admin)
      .when(
        command('RevokeRole', { role: 'admin', roster: { isBootstrapAdmin: false, otherActiveAdmins: 0 } }),
      );
    last.then([refused('last_admin')]);
    expect(last.thenState()).toMatchObject({ roles: ['admin'] });
    spec
      .given(admin)
      .when(
        command('RevokeRole', { role: 'admin', roster: { isBootstrapAdmin: true, otherActiveAdmins: 3 } }),
      )
      .then([refused('bootstrap_admin')]);
    // Without the roster nothing vouches for another admin: refused too.
    spec
      .given(admin)
      .when(command('RevokeRole', { role: 'admin' }))
      .then([refused('last_admin')]);
    // Other roles need no roster.
    spec
      .given([...activeUser, granted('pii:read')])
      .when(command('RevokeRole', { role: 'pii:read' }))
      .then([{ type: 'RoleRevoked', data: { role: 'pii:read' } }]);
  });

  it('does nothing when revoking a role not held', () => {
    spec
      .given(activeUser)
      .when(command('RevokeRole', { role: 'admin' }))
      .thenNothing();
  });

  it('refuses a missing or erased account', () => {
    spec
      .given([])
      .when(command('GrantRole', { role: 'admin' }))
      .thenThrows('user-not-found');
    spec
      .given(erasedUser)
      .when(command('GrantRole', { role: 'admin' }))
      .thenThrows('user-erased');
    spec
      .given([])
      .when(command('RevokeRole', { role: 'admin' }))
      .thenThrows('user-not-found');
    spec
      .given(erasedUser)
      .when(command('RevokeRole', { role: 'admin' }))
      .thenThrows('user-erased');
  });
});

describe('UpdateProfile', () => {
  const updated = (username: string | null): UserEvent => ({
    type: 'UserProfileUpdated',
    data: { username },
  });

  it('sets a username', () => {
    spec
      .given(activeUser)
      .when(command('UpdateProfile', { username: USERNAME }))
      .then([updated(USERNAME)]);
  });

  it('removes the username', () => {
    spec
      .given([...activeUser, updated(USERNAME)])
      .when(command('UpdateProfile', { username: null }))
      .then([updated(null)]);
  });

  it('does nothing when the username is unchanged', () => {
    spec
      .given([...activeUser, updated(USERNAME)])
      .when(command('UpdateProfile', { username: USERNAME }))
      .thenNothing();
    spec
      .given(activeUser)
      .when(command('UpdateProfile', { username: null }))
      .thenNothing();
  });

  it('serves an account pending verification', () => {
    spec
      .given(pendingUser)
      .when(command('UpdateProfile', { username: USERNAME }))
      .then([updated(USERNAME)]);
  });

  it('refuses a missing, erased or deactivated account', () => {
    spec
      .given([])
      .when(command('UpdateProfile', { username: USERNAME }))
      .thenThrows('user-not-found');
    spec
      .given(erasedUser)
      .when(command('UpdateProfile', { username: USERNAME }))
      .thenThrows('user-erased');
    spec
      .given(deactivatedUser)
      .when(command('UpdateProfile', { username: USERNAME }))
      .thenThrows('user-deactivated');
  });
});

describe('EndAllSessions', () => {
  const ended = (atMs: number): UserEvent => ({
    type: 'AllSessionsEnded',
    data: { at: iso(atMs), reason: 'logout_all' },
  });

  it('ends every session', () => {
    spec
      .given(activeUser)
      .when(command('EndAllSessions'))
      .then([ended(T)]);
  });

  it('ends them again when repeated: a login since may have started one', () => {
    spec
      .given([...activeUser, ended(HOUR)])
      .when(command('EndAllSessions'))
      .then([ended(T)]);
  });

  it('does nothing for a deactivated account, whose sessions are all dead', () => {
    spec.given(deactivatedUser).when(command('EndAllSessions')).thenNothing();
  });

  it('refuses a missing or erased account', () => {
    spec.given([]).when(command('EndAllSessions')).thenThrows('user-not-found');
    spec.given(erasedUser).when(command('EndAllSessions')).thenThrows('user-erased');
  });
});

describe('The account state', () => {
  it('folds registration, verification and a role into the profile it describes', () => {
    expect(
      spec.given([...activeUser, { type: 'RoleGranted', data: { role: 'admin' } }]).state(),
    ).toMatchObject({
      status: 'active',
      userId: USER_ID,
      emailVerified: true,
      roles: ['admin'],
      registeredAt: at(0),
      revision: 3,
    });
  });

  it('ignores a fact that does not fit: verification of a missing account', () => {
    expect(spec.given([emailVerified()]).state()).toStrictEqual({ status: 'initial', revision: 0 });
  });
});

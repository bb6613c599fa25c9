import type { EmailReservationEvent } from '../domain/email-reservation/events';
import type { SessionEvent } from '../domain/session/events';
import type { UserEvent } from '../domain/user/events';

/**
 * Every event type the service writes, described once (STYLE.md "src/catalog"): how each data member may
 * be shown, the line a person reads in a timeline, and the mail it asks for. Keyed by the event-type
 * union and, per type, by every member of its data, so a new event or a new member does not compile until
 * it is described here. The feed's JSON Schemas are keyed by the same union (application/events/schemas.ts).
 *
 * `fields`: `plain` members are shown as they are, `personal` ones (sealed with the user's key) only to
 * callers who may read personal data, `secret` ones never (events/present.ts).
 * `fact`: built from the PRESENTED event's data (snake_case members, personal data already opened or
 * redacted), so a timeline can show nothing the presenter hides (history/timeline.ts).
 * `mail`: the kind of mail the event asks the mail consumer for (mail/mail-consumer.ts).
 */
export type CatalogEvent = UserEvent | SessionEvent | EmailReservationEvent;

export type CatalogEventType = CatalogEvent['type'];

export type FieldKind = 'plain' | 'personal' | 'secret';

/** The mails the service sends; each is asked for by one event type below. */
export type MailKind =
  | 'verification'
  | 'reset'
  | 'signup-attempt'
  | 'password-changed'
  | 'password-reset'
  | 'email-change'
  | 'email-change-notice';

type DataOf<T extends CatalogEventType> = Extract<CatalogEvent, { type: T }>['data'];

export type CatalogEntry<T extends CatalogEventType> = {
  fields: { readonly [K in keyof Required<DataOf<T>>]: FieldKind };
  fact: (data: Record<string, unknown>) => string;
  /** One mail, or several (the email change: a link to the new address, a notice to the old one). */
  mail?: MailKind | readonly [MailKind, ...MailKind[]];
};

const text = (value: unknown): string =>
  value === null || value === undefined ? '-' : typeof value === 'string' ? value : JSON.stringify(value);

export const EVENT_CATALOG: { readonly [T in CatalogEventType]: CatalogEntry<T> } = {
  UserRegistered: {
    fields: {
      userId: 'plain',
      email: 'personal',
      username: 'personal',
      passwordHash: 'secret',
      registeredAt: 'plain',
    },
    fact: (d) =>
      `registered with email ${text(d.email)}${d.username !== undefined ? `, username ${text(d.username)}` : ''}`,
  },
  PendingRegistrationReplaced: {
    fields: { passwordHash: 'secret', username: 'personal' },
    fact: (d) =>
      `registered again before verifying: the earlier password is replaced${
        d.username !== undefined ? `, username ${text(d.username)}` : ''
      }`,
  },
  DuplicateRegistrationAttempted: {
    fields: { at: 'plain' },
    fact: () => 'someone tried to register this address again (owner notified)',
    mail: 'signup-attempt',
  },
  EmailVerificationRequested: {
    fields: {
      tokenId: 'plain',
      tokenHash: 'secret',
      expiresAt: 'plain',
      requestedAt: 'plain',
    },
    fact: (d) => `verification link sent, valid until ${text(d.expires_at)}`,
    mail: 'verification',
  },
  EmailVerified: {
    fields: { at: 'plain' },
    fact: () => 'email address verified',
  },
  LoginAttemptStarted: {
    fields: { attemptId: 'plain', at: 'plain' },
    fact: () => 'login attempt: checking the password',
  },
  LoginFailed: {
    fields: { at: 'plain', consecutiveFailures: 'plain', attemptId: 'plain' },
    fact: (d) => `wrong password (${text(d.consecutive_failures)} in a row)`,
  },
  LoginSucceeded: {
    fields: { attemptId: 'plain', at: 'plain' },
    fact: () => 'correct password: logged in, failure count reset',
  },
  LoginRefused: {
    fields: { attemptId: 'plain', at: 'plain', reason: 'plain' },
    fact: (d) => `correct password, login refused (${text(d.reason)})`,
  },
  AccountLocked: {
    fields: { until: 'plain', level: 'plain' },
    fact: (d) => `LOCKED until ${text(d.until)} (lock ${text(d.level)} in this run)`,
  },
  FailedLoginsCleared: {
    fields: { at: 'plain' },
    fact: () => 'correct password: failure count reset',
  },
  AccountUnlocked: {
    fields: { at: 'plain', by: 'plain' },
    fact: (d) => `unlocked (by ${text(d.by)})`,
  },
  PasswordRehashed: {
    fields: { passwordHash: 'secret' },
    fact: () => 'password hash upgraded to the current parameters',
  },
  PasswordChanged: {
    fields: { passwordHash: 'secret', keepSessionId: 'plain', at: 'plain' },
    fact: (d) =>
      `password changed; every other session ended${d.keep_session_id ? ` (kept ${text(d.keep_session_id)})` : ''}`,
    mail: 'password-changed',
  },
  PasswordResetRequested: {
    fields: { tokenId: 'plain', tokenHash: 'secret', expiresAt: 'plain', requestedAt: 'plain' },
    fact: (d) => `password reset link sent, valid until ${text(d.expires_at)}`,
    mail: 'reset',
  },
  PasswordResetCompleted: {
    fields: { passwordHash: 'secret', tokenId: 'plain', at: 'plain' },
    fact: () => 'password reset with the emailed link; all sessions ended, lock cleared',
    mail: 'password-reset',
  },
  EmailChangeRequested: {
    fields: {
      tokenId: 'plain',
      tokenHash: 'secret',
      expiresAt: 'plain',
      requestedAt: 'plain',
      newEmail: 'personal',
    },
    fact: (d) =>
      `address change to ${text(d.new_email)} asked for: confirmation link sent, valid until ${text(d.expires_at)}; the current address notified`,
    mail: ['email-change', 'email-change-notice'],
  },
  EmailChanged: {
    fields: { email: 'personal', tokenId: 'plain', at: 'plain' },
    fact: (d) => `address changed to ${text(d.email)} (confirmed with the emailed link); sessions kept`,
  },
  UserProfileUpdated: {
    fields: { username: 'personal' },
    fact: (d) => `username set to ${text(d.username)}`,
  },
  UserDeactivated: {
    fields: { at: 'plain' },
    fact: () => 'DEACTIVATED; all sessions ended',
  },
  UserReactivated: {
    fields: { at: 'plain' },
    fact: () => 'reactivated (earlier sessions stay ended)',
  },
  RoleGranted: {
    fields: { role: 'plain' },
    fact: (d) => `role ${text(d.role)} granted`,
  },
  RoleRevoked: {
    fields: { role: 'plain' },
    fact: (d) => `role ${text(d.role)} revoked`,
  },
  AdminCommandRefused: {
    fields: { command: 'plain', role: 'plain', rule: 'plain', at: 'plain' },
    fact: (d) =>
      `REFUSED: revoking role ${text(d.role)} (${d.rule === 'bootstrap_admin' ? 'the bootstrap admin address' : 'the last active admin'})`,
  },
  AllSessionsEnded: {
    fields: { at: 'plain', reason: 'plain' },
    fact: (d) => `all sessions ended (${text(d.reason)})`,
  },
  UserErased: {
    fields: { at: 'plain' },
    fact: () => 'ERASED: personal data unreadable from now on',
  },
  SessionStarted: {
    fields: {
      sessionId: 'plain',
      userId: 'plain',
      startedAtUserRevision: 'plain',
      refreshTokenHash: 'secret',
      nonce: 'secret',
      startedAt: 'plain',
      idleExpiresAt: 'plain',
      absoluteExpiresAt: 'plain',
      userAgent: 'personal',
      ip: 'personal',
    },
    fact: (d) => `session ${text(d.session_id)} started, user agent ${text(d.user_agent)}, ip ${text(d.ip)}`,
  },
  RefreshTokenRotated: {
    fields: {
      generation: 'plain',
      refreshTokenHash: 'secret',
      at: 'plain',
      idleExpiresAt: 'plain',
    },
    fact: (d) => `refresh token rotated (generation ${text(d.generation)})`,
  },
  RefreshTokenReuseTolerated: {
    fields: { generation: 'plain', at: 'plain' },
    fact: (d) => `retried refresh of generation ${text(d.generation)} within the grace window`,
  },
  RefreshTokenReuseDetected: {
    fields: { generation: 'plain', at: 'plain' },
    fact: (d) => `REUSE of rotated refresh token generation ${text(d.generation)}`,
  },
  SessionEnded: {
    fields: { reason: 'plain', at: 'plain' },
    fact: (d) => `session ended (${text(d.reason)})`,
  },
  EmailReserved: {
    fields: { userId: 'plain', at: 'plain' },
    fact: (d) => `address reserved for user ${text(d.user_id)}`,
  },
  EmailReleased: {
    fields: { userId: 'plain' },
    fact: (d) => `address released by user ${text(d.user_id)}`,
  },
};

/** The entry of a recorded type, or undefined for a type this code does not know (a newer writer's). */
export const catalogEntry = (type: string): CatalogEntry<CatalogEventType> | undefined =>
  Object.prototype.hasOwnProperty.call(EVENT_CATALOG, type)
    ? (EVENT_CATALOG[type as CatalogEventType] as CatalogEntry<CatalogEventType>)
    : undefined;

import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../../src/application/event-store';
import { presentEvent, REDACTED } from '../../../src/application/events/present';
import {
  eventJsonSchemas,
  eventSchemas,
  parseAccountEvent,
  type AccountEventType,
} from '../../../src/application/events/schemas';
import type { SessionEvent } from '../../../src/domain/session/events';
import type { UserEvent } from '../../../src/domain/user/events';

const userId = randomUUID();
const sessionId = randomUUID();
const at = '2025-03-01T10:00:00.000Z';
const later = '2025-03-01T10:15:00.000Z';
const sealed = (what: string) => `pii:v1:${Buffer.from(what).toString('base64url')}.c2VhbGVk.dGFn`;
const hash = 'a'.repeat(64);

type DataOf<E extends { type: string; data: unknown }> = { [K in E as K['type']]: K['data'] };

/** One domain event of every type, each with every optional member present. */
const SAMPLES: DataOf<UserEvent> & DataOf<SessionEvent> = {
  UserRegistered: {
    userId,
    email: sealed('ada@example.com'),
    username: sealed('ada'),
    passwordHash: sealed('$argon2id$...'),
    registeredAt: at,
  },
  PendingRegistrationReplaced: { passwordHash: sealed('$argon2id$...'), username: sealed('ada2') },
  DuplicateRegistrationAttempted: { at },
  EmailVerificationRequested: { tokenId: randomUUID(), tokenHash: hash, expiresAt: later, requestedAt: at },
  EmailVerified: { at },
  LoginAttemptStarted: { attemptId: userId, at },
  LoginFailed: { at, consecutiveFailures: 3, attemptId: randomUUID() },
  LoginSucceeded: { attemptId: randomUUID(), at },
  LoginRefused: { attemptId: randomUUID(), at, reason: 'email_not_verified' },
  AccountLocked: { until: later, level: 1 },
  FailedLoginsCleared: { at },
  AccountUnlocked: { at, by: 'admin' },
  PasswordRehashed: { passwordHash: sealed('$argon2id$...') },
  PasswordChanged: { passwordHash: sealed('$argon2id$...'), keepSessionId: sessionId, at },
  PasswordResetRequested: { tokenId: randomUUID(), tokenHash: hash, expiresAt: later, requestedAt: at },
  PasswordResetCompleted: { passwordHash: sealed('$argon2id$...'), tokenId: randomUUID(), at },
  EmailChangeRequested: {
    tokenId: randomUUID(),
    tokenHash: hash,
    expiresAt: later,
    requestedAt: at,
    newEmail: sealed('ada@new.example'),
  },
  EmailChanged: { email: sealed('ada@new.example'), tokenId: randomUUID(), at },
  UserProfileUpdated: { username: sealed('lovelace') },
  UserDeactivated: { at },
  UserReactivated: { at },
  RoleGranted: { role: 'events:read' },
  RoleRevoked: { role: 'pii:read' },
  AdminCommandRefused: { command: 'RevokeRole', role: 'admin', rule: 'last_admin', at },
  AllSessionsEnded: { at, reason: 'logout_all' },
  UserErased: { at },
  SessionStarted: {
    sessionId,
    userId,
    startedAtUserRevision: 4,
    refreshTokenHash: hash,
    nonce: randomUUID(),
    startedAt: at,
    idleExpiresAt: later,
    absoluteExpiresAt: later,
    userAgent: sealed('curl/8'),
    ip: sealed('203.0.113.9'),
  },
  RefreshTokenRotated: { generation: 1, refreshTokenHash: hash, at, idleExpiresAt: later },
  RefreshTokenReuseTolerated: { generation: 0, at },
  RefreshTokenReuseDetected: { generation: 0, at },
  SessionEnded: { reason: 'refresh_token_reuse', at },
};

const types = Object.keys(SAMPLES) as AccountEventType[];

const SESSION_TYPES = new Set<string>([
  'SessionStarted',
  'RefreshTokenRotated',
  'RefreshTokenReuseTolerated',
  'RefreshTokenReuseDetected',
  'SessionEnded',
]);

const recorded = (type: AccountEventType, revision = 0): RecordedEvent => ({
  id: randomUUID(),
  streamId: SESSION_TYPES.has(type) ? `session-${sessionId}` : `user-${userId}`,
  revision,
  position: '00000000000000a1-00000000000000b2',
  type,
  data: SAMPLES[type],
  metadata: {
    occurred_at: at,
    correlation_id: 'req-1',
    causation_id: 'req-1',
    actor: { type: 'admin', id: randomUUID() },
    schema_version: 1,
    reason: 'support ticket 42',
  },
  createdAt: new Date(at),
});

const vault = { open: async (_user: string, value: string) => `opened:${value.length}` };

describe('the feed event schemas', () => {
  it('have one entry per event type of the user- and session- streams, each typed with its own name', () => {
    expect(Object.keys(eventSchemas).sort()).toEqual([...types].sort());
    for (const type of types) expect(eventSchemas[type].shape.type.value).toBe(type);
  });

  describe.each([
    ['redacted (no pii:read)', false],
    ['revealed (pii:read)', true],
  ])('match what the presenter shows, %s', (_name, revealPersonalData) => {
    it.each(types)('%s', async (type) => {
      const json = await presentEvent(recorded(type), { revealPersonalData, vault });
      const parsed = eventSchemas[type].parse(json);
      // Every member the presenter shows is in the schema and the other way round (all optionals given),
      // so a member added on either side without the other fails here.
      expect(Object.keys(json.data).sort()).toEqual(Object.keys(eventSchemas[type].shape.data.shape).sort());
      expect(parsed.data).toEqual(json.data);
      expect(JSON.stringify([json.data, json.metadata])).not.toMatch(/pii:v1|hash|nonce|\$argon2/i);
    });
  });

  it('show redacted personal data without pii:read', async () => {
    const json = await presentEvent(recorded('UserRegistered'), { revealPersonalData: false });
    expect(eventSchemas.UserRegistered.parse(json).data).toMatchObject({
      email: REDACTED,
      username: REDACTED,
    });
  });

  it('parse any event by its type, pass over unknown types, and refuse a known type with a wrong shape', async () => {
    const json = await presentEvent(recorded('LoginFailed'), { revealPersonalData: false });
    expect(parseAccountEvent(json)?.type).toBe('LoginFailed');
    expect(parseAccountEvent({ ...json, type: 'SomethingNewer' })).toBeNull();
    expect(() => parseAccountEvent({ ...json, data: { at: 'yesterday' } })).toThrow();
    expect(() => parseAccountEvent({ ...json, position: 'not-a-position' })).toThrow();
  });

  it('generate a JSON Schema for the envelope and for every type', () => {
    const schemas = eventJsonSchemas() as {
      envelope: { required: string[] };
      events: Record<string, { properties: { type: { const: string }; data: { required?: string[] } } }>;
    };
    expect(schemas.envelope.required).toEqual(
      expect.arrayContaining(['position', 'stream', 'revision', 'id', 'type', 'occurred_at', 'data']),
    );
    expect(Object.keys(schemas.events).sort()).toEqual([...types].sort());
    expect(schemas.events.UserRegistered!.properties.type.const).toBe('UserRegistered');
    expect(schemas.events.UserRegistered!.properties.data.required).toEqual(
      expect.arrayContaining(['user_id', 'email', 'registered_at']),
    );
  });
});

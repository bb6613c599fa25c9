import { z } from 'zod';
import {
  SESSION_STREAM_PREFIX,
  type SessionEndReason,
  type SessionEventType,
} from '../../domain/session/events';
import { USER_STREAM_PREFIX, type UserEventType } from '../../domain/user/events';
import { ROLES } from '../../domain/user/roles';
import { topicMapping } from './topics';

/**
 * The account events as the HTTP feed shows them (CONTRACT "Events"): the envelope, and the `data` of every
 * event type of the public streams AFTER presentation (present.ts): member names in snake_case, hashes,
 * nonces and other secrets left out, personal data opened for callers holding `pii:read` and redacted
 * otherwise. These schemas are the one definition of that surface: the feed's JSON Schema
 * (`GET /v1/events/schema`) and the subscriber library's types (packages/subscriber) are generated from them.
 *
 * Released types never change shape (docs/design.md): a new shape is a new `schema_version`. Object schemas
 * strip unknown members rather than refuse them, so a subscriber keeps working when a member is added.
 */

/**
 * The streams the feed shows: an account's life and its sessions. The `email-<hmac>` reservation streams
 * are internal bookkeeping of address uniqueness (docs/design.md) and stay out: they say nothing an account
 * stream does not, and their ids are keyed digests of addresses.
 */
export const FEED_STREAM_PREFIXES = [USER_STREAM_PREFIX, SESSION_STREAM_PREFIX] as const;

const POSITION = /^[0-9a-f]{16}-[0-9a-f]{16}$/;

export const positionSchema = z
  .string()
  .regex(POSITION)
  .describe('Opaque position in the global commit order; positions sort as plain strings');

const timestamp = z.iso.datetime().describe('RFC 3339 UTC timestamp');

/**
 * A sealed value of the user's personal data: the plaintext for a caller holding `pii:read`, otherwise a
 * redaction marker; after erasure the key is gone and the value cannot be opened for anyone.
 */
const personalData = z
  .string()
  .nullable()
  .describe('Personal data: plaintext with pii:read, otherwise redacted; unreadable once the user is erased');

const uuid = z.guid();

const sessionEndReasons = [
  'logout_all',
  'password_changed',
  'password_reset',
  'deactivated',
  'erased',
  'registration_replaced',
  'logout',
  'admin',
  'refresh_token_reuse',
  'expired',
  'revoked_by_user',
] as const satisfies readonly SessionEndReason[];
// Both directions: a reason added to the domain must be added here, or this line stops compiling.
const _everyReason: readonly (typeof sessionEndReasons)[number][] = [] as SessionEndReason[];
void _everyReason;

export const actorSchema = z.object({
  type: z.enum(['user', 'admin', 'system']),
  id: z.string().nullable(),
});

// Optional as the presenter makes them: the service writes all three on every event it appends.
export const metadataSchema = z.object({
  correlation_id: z.string().optional(),
  causation_id: z.string().optional(),
  actor: actorSchema.optional(),
  reason: z.string().optional().describe('Given with every administrative command'),
});

/** The event JSON of the feed, whatever its type. */
export const envelopeSchema = z.object({
  position: positionSchema,
  stream: z.string().describe('`user-<uuid>` or `session-<uuid>`'),
  revision: z.number().int().nonnegative().describe('0-based revision of the event within its stream'),
  id: uuid.describe('Event id: unique, the same on every delivery'),
  type: z.string(),
  occurred_at: timestamp,
  schema_version: z.number().int().positive(),
  data: z.record(z.string(), z.unknown()),
  metadata: metadataSchema,
});

const accountEvent = <T extends string, S extends z.ZodRawShape>(type: T, data: S) =>
  envelopeSchema.extend({ type: z.literal(type), data: z.object(data) });

const at = { at: timestamp };
const oneTimeTokenRequest = { token_id: uuid, expires_at: timestamp, requested_at: timestamp };

/** Every event type of the `user-` and `session-` streams, keyed by type. */
export const eventSchemas = {
  // user-<uuid>
  UserRegistered: accountEvent('UserRegistered', {
    user_id: uuid,
    email: personalData,
    username: personalData.optional(),
    registered_at: timestamp,
  }),
  PendingRegistrationReplaced: accountEvent('PendingRegistrationReplaced', {
    username: personalData.optional(),
  }),
  DuplicateRegistrationAttempted: accountEvent('DuplicateRegistrationAttempted', at),
  EmailVerificationRequested: accountEvent('EmailVerificationRequested', oneTimeTokenRequest),
  EmailVerified: accountEvent('EmailVerified', at),
  LoginAttemptStarted: accountEvent('LoginAttemptStarted', { ...at, attempt_id: uuid }),
  LoginFailed: accountEvent('LoginFailed', {
    ...at,
    consecutive_failures: z.number().int().positive(),
    attempt_id: uuid.optional(),
  }),
  LoginSucceeded: accountEvent('LoginSucceeded', { ...at, attempt_id: uuid }),
  LoginRefused: accountEvent('LoginRefused', {
    ...at,
    attempt_id: uuid,
    reason: z.enum(['email_not_verified', 'locked', 'deactivated']),
  }),
  AccountLocked: accountEvent('AccountLocked', { until: timestamp, level: z.number().int().positive() }),
  FailedLoginsCleared: accountEvent('FailedLoginsCleared', at),
  AccountUnlocked: accountEvent('AccountUnlocked', { ...at, by: z.enum(['admin', 'password_reset']) }),
  PasswordRehashed: accountEvent('PasswordRehashed', {}),
  PasswordChanged: accountEvent('PasswordChanged', { ...at, keep_session_id: uuid.optional() }),
  PasswordResetRequested: accountEvent('PasswordResetRequested', oneTimeTokenRequest),
  PasswordResetCompleted: accountEvent('PasswordResetCompleted', { ...at, token_id: uuid }),
  EmailChangeRequested: accountEvent('EmailChangeRequested', {
    ...oneTimeTokenRequest,
    new_email: personalData,
  }),
  EmailChanged: accountEvent('EmailChanged', { ...at, email: personalData, token_id: uuid }),
  UserInvited: accountEvent('UserInvited', {
    user_id: uuid,
    email: personalData,
    token_id: uuid,
    expires_at: timestamp,
    invited_at: timestamp,
  }),
  InvitationAccepted: accountEvent('InvitationAccepted', { ...at, token_id: uuid }),
  InvitationRevoked: accountEvent('InvitationRevoked', { ...at, token_id: uuid }),
  UserProfileUpdated: accountEvent('UserProfileUpdated', { username: personalData }),
  UserDeactivated: accountEvent('UserDeactivated', at),
  UserReactivated: accountEvent('UserReactivated', at),
  RoleGranted: accountEvent('RoleGranted', { role: z.enum(ROLES) }),
  RoleRevoked: accountEvent('RoleRevoked', { role: z.enum(ROLES) }),
  AdminCommandRefused: accountEvent('AdminCommandRefused', {
    ...at,
    command: z.enum(['RevokeRole']),
    role: z.enum(ROLES),
    rule: z.enum(['bootstrap_admin', 'last_admin']),
  }),
  AllSessionsEnded: accountEvent('AllSessionsEnded', { ...at, reason: z.enum(['logout_all']) }),
  UserErased: accountEvent('UserErased', at),
  // session-<uuid>
  SessionStarted: accountEvent('SessionStarted', {
    session_id: uuid,
    user_id: uuid,
    started_at_user_revision: z.number().int().nonnegative(),
    started_at: timestamp,
    idle_expires_at: timestamp.optional(),
    absolute_expires_at: timestamp,
    user_agent: personalData.optional(),
    ip: personalData.optional(),
  }),
  RefreshTokenRotated: accountEvent('RefreshTokenRotated', {
    ...at,
    generation: z.number().int().positive(),
    idle_expires_at: timestamp.optional(),
  }),
  RefreshTokenReuseTolerated: accountEvent('RefreshTokenReuseTolerated', {
    ...at,
    generation: z.number().int().nonnegative(),
  }),
  RefreshTokenReuseDetected: accountEvent('RefreshTokenReuseDetected', {
    ...at,
    generation: z.number().int().nonnegative(),
  }),
  SessionEnded: accountEvent('SessionEnded', { ...at, reason: z.enum(sessionEndReasons) }),
} as const satisfies Record<UserEventType | SessionEventType, z.ZodType>;

export type AccountEventType = keyof typeof eventSchemas;

/** One event of the feed, discriminated on `type`. */
export type AccountEvent = { [T in AccountEventType]: z.infer<(typeof eventSchemas)[T]> }[AccountEventType];

export const isAccountEventType = (type: string): type is AccountEventType =>
  Object.prototype.hasOwnProperty.call(eventSchemas, type);

/**
 * The event checked against its type's schema. Null for a type this code does not know (written by a newer
 * service); a ZodError for a known type whose JSON does not match.
 */
export const parseAccountEvent = (json: unknown): AccountEvent | null => {
  const type = envelopeSchema.pick({ type: true }).parse(json).type;
  return isAccountEventType(type) ? (eventSchemas[type].parse(json) as AccountEvent) : null;
};

/** The answer of `GET /v1/events`. */
export const feedPageSchema = z.object({
  events: z.array(z.unknown()),
  next_cursor: positionSchema
    .nullable()
    .describe('Pass as `after` for the next page; null only when the feed has nothing at all yet'),
});

// The input side: an object that strips unknown members does not forbid them (`additionalProperties`), so a
// consumer validating with these schemas keeps accepting events that gained a member.
const JSON_SCHEMA_OPTIONS = { io: 'input' } as const;

/** `GET /v1/events/schema`: the envelope and every type, as JSON Schema (draft 2020-12). */
export const eventJsonSchemas = (): {
  envelope: unknown;
  events: Record<AccountEventType, unknown>;
  topics: Record<string, { seed: string; type: string }>;
} => ({
  envelope: z.toJSONSchema(envelopeSchema, JSON_SCHEMA_OPTIONS),
  // The relay's topic of each type (CONTRACT "Event relay"): `topics: seed` and `topics: type`.
  topics: topicMapping(Object.keys(eventSchemas)),
  events: Object.fromEntries(
    Object.entries(eventSchemas).map(([type, schema]) => [type, z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS)]),
  ) as Record<AccountEventType, unknown>,
});

import { z } from 'zod';
import { canonicalEmail } from '../application/canonical-email';
import { ROLES } from '../domain/user';

/**
 * Request and response schemas of the account endpoints (CONTRACT.md "Accounts", "Administration"). Each
 * request schema is strict: an unknown member is a 400 `validation-failed`. The OpenAPI document is built
 * from these exports, so every schema the routes use is a named export here.
 *
 * Messages never quote the submitted value: it may be a password or a token.
 */

/** An address for a NEW account: it must have a canonical form (src/application/canonical-email.ts). */
export const RegistrationEmail = z
  .string()
  .max(320)
  .refine((value) => canonicalEmail(value) !== null, { message: 'must be one valid email address' });

/**
 * An address to look an account up by (resend, forgot): any string. One that is not an address is answered
 * like an unknown one (202, nothing sent); an array or an object is refused (GitLab CVE-2023-7028).
 */
export const LookupEmail = z.string();

/**
 * A new password. Length and content are the policy's (422 `weak-password` with every reason), which
 * runs before any hashing; the schema only insists on a string.
 */
export const NewPassword = z.string();

/** Not limited beyond the body limit: a wrong one is an ordinary failed attempt. */
export const CurrentPassword = z.string();

// Control and format characters (CR/LF, zero-width, bidi overrides) and line separators: none belongs in
// a name shown to people.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** A display name: 1 to 64 characters, not only spaces, nothing unprintable; kept as typed. */
export const Username = z
  .string()
  .refine((value) => [...value].length >= 1 && [...value].length <= 64, {
    message: 'must be 1 to 64 characters',
  })
  .refine((value) => value.trim().length > 0, { message: 'must not be blank' })
  .refine((value) => !UNPRINTABLE.test(value), { message: 'must not contain control characters' });

/** A verification or reset token as it came in the link; its shape is checked when it is used. */
export const OneTimeToken = z.string().min(1).max(512);

export const Reason = z
  .string()
  .trim()
  .min(1, { message: 'must say why' })
  .max(1000)
  .refine((value) => !/[\p{Cc}]/u.test(value.replace(/\n/g, '')), {
    message: 'must not contain control characters',
  });

export const RoleName = z.enum(ROLES);

/**
 * A position as the feed shows it (`<16 hex>-<16 hex>`, src/application/event-store.ts), within the range
 * every backend can hold: each half at most 2^63 - 1, i.e. a first hex digit of 0-7. The wire format has
 * room for two unsigned 64-bit numbers, but
 * - PostgreSQL and the embedded store keep the second half in a signed `bigint` (global_position), which
 *   ends at 2^63 - 1: one past it fails the query (`out of range for type bigint`), a 500 before this check;
 * - their first half is an `xid8`, unsigned 64-bit, but made of a 32-bit epoch and a 32-bit transaction id:
 *   2^63 would take 2^31 wraparounds of the transaction counter;
 * - EventStoreDB's commit and prepare positions are unsigned 64-bit in its gRPC API, but the server keeps
 *   them as signed 64-bit log offsets (its TFPos), 2^64 - 1 meaning "the end" rather than a place.
 * So one bound, 2^63 - 1 on each half, refuses nothing any store can have written, and everything past it
 * is a 400 at the API boundary for all three backends.
 */
const STORABLE_POSITION = /^[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}$/;

export const isStorablePosition = (value: string): boolean => STORABLE_POSITION.test(value);

export const FeedPosition = z.string().regex(STORABLE_POSITION, 'must be a position taken from the feed');

export const RegisterRequest = z
  .object({ email: RegistrationEmail, password: NewPassword, username: Username.optional() })
  .strict();

export const VerifyEmailRequest = z.object({ token: OneTimeToken }).strict();

export const ResendVerificationRequest = z.object({ email: LookupEmail }).strict();

export const ForgotPasswordRequest = z.object({ email: LookupEmail }).strict();

export const ResetPasswordRequest = z.object({ token: OneTimeToken, new_password: NewPassword }).strict();

export const ChangePasswordRequest = z
  .object({ current_password: CurrentPassword, new_password: NewPassword })
  .strict();

/** `username: null` removes the name; an absent member leaves it as it is. */
export const UpdateProfileRequest = z.object({ username: Username.nullable().optional() }).strict();

export const AdminCommandRequest = z.object({ reason: Reason }).strict();

export const GrantRoleRequest = z.object({ role: RoleName, reason: Reason }).strict();

export const Profile = z.object({
  id: z.uuid(),
  email: z.string(),
  username: z.string().nullable(),
  email_verified: z.boolean(),
  status: z.enum(['pending_verification', 'active', 'deactivated']),
  roles: z.array(z.string()),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const RegistrationAccepted = z.object({ status: z.literal('pending_verification') });

/** `REGISTRATION_REVEALS_EXISTING=true`: the new account. */
export const RegistrationCreated = z.object({ user: Profile });

export const EmailVerifiedResponse = z.object({ email_verified: z.literal(true) });

/** The uniform answer of resend-verification and forgot-password. */
export const RequestAccepted = z.object({ status: z.literal('accepted') });

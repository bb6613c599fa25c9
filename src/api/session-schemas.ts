import { z } from 'zod';

/**
 * Request and response schemas of login, refresh, logout and the session list (CONTRACT.md "Accounts"),
 * as named exports for the routes and the OpenAPI document. Requests are strict: an unknown member is 400
 * `validation-failed`. Messages never quote the submitted value: it may be a password or a token.
 */

// Never trimmed, at most 256 characters (CONTRACT.md "Accounts"): a longer one is refused before argon2
// runs. The minimum length is the policy's business when a password is set, not at login.
const LoginPassword = z.string().min(1).max(256);
const LoginEmail = z.string().min(1).max(320);
/** Opaque to clients; ours are 70 characters, the margin only spares a pointless 400 for a stranger's. */
const RefreshToken = z.string().min(1).max(512);

export const LoginRequest = z.object({ email: LoginEmail, password: LoginPassword }).strict();

/** RFC 6749 §4.3.2, the resource owner password grant, as OAuth clients send it (form-encoded). */
export const LoginFormRequest = z
  .object({ grant_type: z.literal('password').optional(), username: LoginEmail, password: LoginPassword })
  .strict();

export const RefreshRequest = z.object({ refresh_token: RefreshToken }).strict();

export const LogoutRequest = z.object({ refresh_token: RefreshToken }).strict();

/** logout-all takes no body; an empty JSON object is tolerated. */
export const EmptyRequest = z.union([z.undefined(), z.object({}).strict()]);

/** RFC 6749 §5.1. */
export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  refresh_token: z.string(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export const SessionListResponse = z.object({
  sessions: z.array(
    z.object({
      id: z.uuid(),
      created_at: z.iso.datetime(),
      last_used_at: z.iso.datetime(),
      user_agent: z.string().nullable(),
      current: z.boolean(),
    }),
  ),
});
export type SessionListResponse = z.infer<typeof SessionListResponse>;

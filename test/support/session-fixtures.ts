/**
 * Helpers for the login, token and session tests: a controllable clock, accounts written straight into
 * the store (as registration and verification would leave them), and small HTTP shortcuts.
 */
import { randomUUID } from 'node:crypto';
import { canonicalEmail } from '../../src/application/canonical-email';
import { eventMetadata, handle, loadStream } from '../../src/application/write/handle';
import type { Clock } from '../../src/application/ports';
import { emailReservationStreamId } from '../../src/domain/email-reservation';
import {
  userDecider,
  userStreamId,
  type Role,
  type UserCommand,
  type UserEvent,
  type UserState,
} from '../../src/domain/user';
import type { Services } from '../../src/infrastructure/services';
import type { TestApp } from './app';

export type TestClock = Clock & { advance(ms: number): void; set(date: Date): void };

/** Real time, shifted by whatever the test advances it by. */
export const testClock = (): TestClock => {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
    set: (date) => {
      offset = date.getTime() - Date.now();
    },
  };
};

export const PASSWORD = 'correct horse battery staple';

let counter = 0;
export const uniqueEmail = (prefix = 'user'): string =>
  `${prefix}.${Date.now().toString(36)}.${(counter += 1)}@example.com`;

export type TestAccount = { userId: string; email: string; password: string };

const systemContext = (now: Date) => ({
  correlationId: randomUUID(),
  causationId: randomUUID(),
  actor: { type: 'system' as const, id: null },
  now,
});

/**
 * An account written straight into the store, as registration (and verification) leave it: the address
 * reserved, the personal data sealed with the user's own key, the password hashed with argon2.
 * `passwordHash` overrides the hash (to test rehashing of weaker parameters).
 */
export const createAccount = async (
  services: Services,
  options: {
    email?: string;
    password?: string;
    verified?: boolean;
    roles?: Role[];
    passwordHash?: string;
  } = {},
): Promise<TestAccount> => {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? PASSWORD;
  const canonical = canonicalEmail(email);
  if (!canonical) throw new Error(`not an address: ${email}`);
  const userId = randomUUID();
  const now = services.clock.now();
  await services.vault.createKey(userId);
  const sealedEmail = await services.vault.seal(userId, canonical);
  const hash = options.passwordHash ?? (await services.hasher.hash(password));
  const sealedHash = await services.vault.seal(userId, hash);
  const metadata = eventMetadata(systemContext(now));
  await services.store.appendToStream(
    emailReservationStreamId(services.emailKeys.reservationKey(canonical)),
    [{ type: 'EmailReserved', data: { userId, at: now.toISOString() }, metadata }],
    { expectedRevision: 'no_stream' },
  );
  const events: UserEvent[] = [
    {
      type: 'UserRegistered',
      data: { userId, email: sealedEmail, passwordHash: sealedHash, registeredAt: now.toISOString() },
    },
    ...(options.verified === false
      ? []
      : [{ type: 'EmailVerified', data: { at: now.toISOString() } } as const]),
    ...(options.roles ?? []).map((role) => ({ type: 'RoleGranted', data: { role } }) as const),
  ];
  await services.store.appendToStream(
    userStreamId(userId),
    events.map((e) => ({ type: e.type, data: e.data, metadata })),
    { expectedRevision: 'no_stream' },
  );
  return { userId, email, password };
};

/** Runs a user command the way its handler would, for endings whose endpoints a test does not drive. */
export const runUserCommand = async (
  services: Services,
  userId: string,
  command: (now: Date) => UserCommand,
): Promise<void> => {
  const now = services.clock.now();
  await handle(services.store, userDecider, userStreamId(userId), command(now), systemContext(now));
};

export const userState = async (
  services: Services,
  userId: string,
): Promise<{ state: UserState; revision: number; types: string[] }> => {
  const loaded = await loadStream(services.store, userDecider, userStreamId(userId));
  return {
    state: loaded.state,
    revision: loaded.revision,
    types: await streamTypes(services, userStreamId(userId)),
  };
};

export const streamTypes = async (services: Services, streamId: string): Promise<string[]> =>
  (await services.store.readStream(streamId)).map((e) => e.type);

export type TokenAnswer = {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
};

export const postJson = (t: TestApp, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Logs in and returns the token answer; fails the test on anything but 200. */
export const loginAs = async (
  t: TestApp,
  account: Pick<TestAccount, 'email' | 'password'>,
  headers: Record<string, string> = {},
): Promise<TokenAnswer> => {
  const res = await postJson(
    t,
    '/v1/auth/login',
    { email: account.email, password: account.password },
    headers,
  );
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as TokenAnswer;
};

export const refreshWith = (t: TestApp, refreshToken: string) =>
  postJson(t, '/v1/auth/refresh', { refresh_token: refreshToken });

/** The bearer check every protected route runs: 200 with a working token, 401 otherwise. */
export const testToken = (t: TestApp, accessToken: string) =>
  fetch(`${t.url}/v1/auth/test-token`, { method: 'POST', headers: bearer(accessToken) });

/** The `sid` claim of an access token (decoded, not verified: for test bookkeeping only). */
export const sessionIdOf = (accessToken: string): string =>
  (JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sid: string })
    .sid;

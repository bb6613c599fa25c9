/**
 * The account flows as a client drives them over HTTP: register, read the link from the mail the
 * service sent, verify, sign in. Accounts made here went through the real registration path, mail
 * consumer and outbox included.
 */
import type { MailMessage } from '../../src/application/mail/ports';
import type { TestApp } from './app';
import { bearer, loginAs, postJson, uniqueEmail, type TokenAnswer } from './session-fixtures';

export const STRONG_PASSWORD = 'plum-violet-harbour-9417';

export type Registered = { email: string; password: string; userId: string };

export const sendJson = (
  t: TestApp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) =>
  fetch(`${t.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** Waits for the newest mail of a kind to an address, sent after `since` messages had gone out. */
export const nextMail = (t: TestApp, to: string, kind: string, since = 0, timeoutMs = 10_000) =>
  t.mail.waitFor(
    (m: MailMessage) => m.to === to && m.kind === kind && t.mail.messages.indexOf(m) >= since,
    timeoutMs,
  );

export const tokenIn = (message: MailMessage): string => {
  const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(message.text)?.[1];
  if (!token) throw new Error('no token link in the mail');
  return token;
};

/** The user id a verification or reset token names (its first 16 bytes). */
export const userIdOfToken = (token: string): string => {
  const hex = Buffer.from(token, 'base64url').subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export const register = async (
  t: TestApp,
  options: { email?: string; password?: string; username?: string } = {},
): Promise<{ email: string; password: string; status: number; token: string; userId: string }> => {
  const email = options.email ?? uniqueEmail('reg');
  const password = options.password ?? STRONG_PASSWORD;
  const since = t.mail.messages.length;
  const res = await postJson(t, '/v1/auth/register', {
    email,
    password,
    ...(options.username !== undefined ? { username: options.username } : {}),
  });
  if (res.status !== 202 && res.status !== 201) throw new Error(`register answered ${res.status}`);
  const token = tokenIn(await nextMail(t, email.toLowerCase(), 'verification', since));
  return { email, password, status: res.status, token, userId: userIdOfToken(token) };
};

/** Registered and verified through the mail link. */
export const registerVerified = async (
  t: TestApp,
  options: { email?: string; password?: string; username?: string } = {},
): Promise<Registered> => {
  const r = await register(t, options);
  const res = await postJson(t, '/v1/auth/verify-email', { token: r.token });
  if (res.status !== 200) throw new Error(`verify answered ${res.status}`);
  return { email: r.email, password: r.password, userId: r.userId };
};

export const signedIn = async (
  t: TestApp,
  options: { email?: string; password?: string; username?: string } = {},
): Promise<Registered & { tokens: TokenAnswer; auth: Record<string, string> }> => {
  const account = await registerVerified(t, options);
  const tokens = await loginAs(t, account);
  return { ...account, tokens, auth: bearer(tokens.access_token) };
};

/** Asserts an RFC 9457 problem with the contract's code; returns the body for further checks. */
export const expectProblem = async (res: Response, status: number, code: string) => {
  const text = await res.text();
  expect({ status: res.status, type: res.headers.get('content-type'), text }).toMatchObject({
    status,
    type: expect.stringContaining('application/problem+json'),
  });
  const body = JSON.parse(text) as {
    code: string;
    status: number;
    errors?: { path: string; message: string }[];
  };
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  return body;
};

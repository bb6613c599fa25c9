/**
 * The event feed as a downstream reader sees it: an admin (BOOTSTRAP_ADMIN_EMAIL) grants `events:read`
 * (and `pii:read`) to a service account over the admin API, and the account reads `/v1/events`.
 */
import type { Role } from '../../src/domain/user/roles';
import { signedIn } from './account-flows';
import { startTestApp, type TestApp, type TestAppOptions } from './app';
import type { TestBackend } from './databases';
import { bearer, postJson, uniqueEmail } from './session-fixtures';

export type FeedEventJson = {
  position: string;
  stream: string;
  revision: number;
  id: string;
  type: string;
  occurred_at: string;
  schema_version: number;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
};

export type FeedPage = { events: FeedEventJson[]; next_cursor: string | null };

export type Caller = { userId: string; email: string; auth: Record<string, string>; accessToken: string };

/** The service with an admin account ready to grant roles. */
export const startFeedApp = async (
  backend: TestBackend,
  options: TestAppOptions = {},
): Promise<{ t: TestApp; admin: Caller }> => {
  const adminEmail = uniqueEmail('admin');
  const t = await startTestApp(backend, {
    ...options,
    env: { BOOTSTRAP_ADMIN_EMAIL: adminEmail, ...options.env },
  });
  try {
    const admin = await signedIn(t, { email: adminEmail });
    return { t, admin: { ...admin, accessToken: admin.tokens.access_token } };
  } catch (e) {
    await t.close();
    throw e;
  }
};

export const grantRole = async (t: TestApp, admin: Caller, userId: string, role: Role): Promise<void> => {
  const res = await postJson(t, `/v1/admin/users/${userId}/roles`, { role, reason: 'feed test' }, admin.auth);
  if (res.status !== 204) throw new Error(`grant ${role} answered ${res.status}: ${await res.text()}`);
};

export const revokeRole = async (t: TestApp, admin: Caller, userId: string, role: Role): Promise<void> => {
  const res = await postJson(
    t,
    `/v1/admin/users/${userId}/roles/${role}/revoke`,
    { reason: 'feed test' },
    admin.auth,
  );
  if (res.status !== 204) throw new Error(`revoke ${role} answered ${res.status}: ${await res.text()}`);
};

/** A signed-in service account holding `roles`. */
export const feedReader = async (t: TestApp, admin: Caller, roles: Role[]): Promise<Caller> => {
  const account = await signedIn(t, { email: uniqueEmail('reader') });
  for (const role of roles) await grantRole(t, admin, account.userId, role);
  return { ...account, accessToken: account.tokens.access_token };
};

export const getFeed = (t: TestApp, caller: Pick<Caller, 'accessToken'> | null, query = '') =>
  fetch(`${t.url}/v1/events${query ? `?${query}` : ''}`, {
    headers: caller ? bearer(caller.accessToken) : {},
  });

/** Follows `next_cursor` until a page brings nothing new; returns every event and the final cursor. */
export const readWholeFeed = async (
  t: TestApp,
  caller: Caller,
  params: Record<string, string> = {},
): Promise<{ events: FeedEventJson[]; cursor: string | null; pages: number }> => {
  const events: FeedEventJson[] = [];
  let cursor: string | null = null;
  for (let pages = 1; ; pages++) {
    const query = new URLSearchParams({ ...params, ...(cursor ? { after: cursor } : {}) });
    const res = await getFeed(t, caller, query.toString());
    if (res.status !== 200) throw new Error(`feed answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as FeedPage;
    events.push(...page.events);
    if (page.events.length === 0 && page.next_cursor === cursor) return { events, cursor, pages };
    cursor = page.next_cursor;
  }
};

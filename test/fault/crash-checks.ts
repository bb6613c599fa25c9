/**
 * What must hold after the crashes, for every user of the crash workload (crash-workload.ts): each
 * acknowledged effect, judged by what the service answers now, and the read model equal to the fold of
 * the events (the admin user list beside `GET /v1/admin/users/{id}`, which folds the `user-` stream).
 */
import { userIdOfToken } from '../support/account-flows';
import { bearer, type Answer, type Outcome } from '../support/service-process';
import type { Account, Workload } from './crash-workload';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const forEachLimit = async <T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
};

/** The service is up for good now: a lost call here is itself a failure. */
const answered = (w: Workload, what: string, outcome: Outcome): Answer | null => {
  if (outcome.kind === 'answer' && outcome.status !== 503) return outcome;
  w.violations.push(`${what}: no answer after recovery (${outcome.kind === 'lost' ? outcome.error : 503})`);
  return null;
};

const code = (a: Answer | null): string =>
  `${a?.status} ${(a?.body as { code?: string })?.code ?? ''}`.trim();

const expectStatus = (w: Workload, what: string, a: Answer | null, status: number): boolean => {
  if (a === null) return false;
  if (a.status === status) return true;
  w.violations.push(`${what}: expected ${status}, got ${code(a)}`);
  return false;
};

const loginStatus = async (w: Workload, who: Account, password: string): Promise<Answer | null> =>
  answered(
    w,
    `login ${who.email}`,
    await w.svc.call('POST', '/v1/auth/login', { email: who.email, password }),
  );

const tokenStatus = async (w: Workload, who: Account, access: string) =>
  answered(w, `test-token ${who.email}`, await w.svc.call('POST', '/v1/auth/test-token', {}, bearer(access)));

const refreshStatus = async (w: Workload, who: Account, token: string) =>
  answered(w, `refresh ${who.email}`, await w.svc.call('POST', '/v1/auth/refresh', { refresh_token: token }));

const checkDeactivated = async (w: Workload, who: Account): Promise<void> => {
  for (const password of [who.password, ...(who.unsurePassword ? [who.unsurePassword] : [])]) {
    const a = await loginStatus(w, who, password);
    expectStatus(w, `deactivated ${who.email} signs in`, a, 401);
  }
  for (const s of who.sessions) {
    expectStatus(
      w,
      `deactivated ${who.email} uses its access token`,
      await tokenStatus(w, who, s.access),
      401,
    );
    expectStatus(w, `deactivated ${who.email} refreshes`, await refreshStatus(w, who, s.refresh), 401);
  }
};

const checkPasswords = async (w: Workload, who: Account): Promise<void> => {
  if (who.unsurePassword) {
    const known = await loginStatus(w, who, who.password);
    const unsure = await loginStatus(w, who, who.unsurePassword);
    const working = [known, unsure].filter((a) => a?.status === 200).length;
    if (working !== 1)
      w.violations.push(
        `${who.email}: ${working} of the old and new password work (${code(known)}/${code(unsure)})`,
      );
    return;
  }
  expectStatus(
    w,
    `${who.email} signs in with its acknowledged password`,
    await loginStatus(w, who, who.password),
    200,
  );
  const former = who.formerPasswords.at(-1);
  if (former !== undefined)
    expectStatus(w, `${who.email} signs in with a replaced password`, await loginStatus(w, who, former), 401);
};

const checkSessions = async (w: Workload, who: Account): Promise<void> => {
  for (const s of who.sessions) {
    const token = await tokenStatus(w, who, s.access);
    if (s.alive === true) expectStatus(w, `${who.email}: a session nothing ended`, token, 200);
    if (s.alive === false) expectStatus(w, `${who.email}: a session a password change ended`, token, 401);
    const parent = s.rotated.at(-1);
    if (parent === undefined) continue;
    // Reuse of a rotated token: refused, and the whole session ends with it.
    const reuse = await refreshStatus(w, who, parent);
    if (expectStatus(w, `${who.email}: reuse of an acknowledged rotated refresh token`, reuse, 401)) {
      expectStatus(w, `${who.email}: the session after reuse`, await tokenStatus(w, who, s.access), 401);
      expectStatus(
        w,
        `${who.email}: the newest token after reuse`,
        await refreshStatus(w, who, s.refresh),
        401,
      );
    }
    for (const old of s.rotated.slice(0, -1))
      expectStatus(w, `${who.email}: an older rotated token`, await refreshStatus(w, who, old), 401);
  }
};

/** Every acknowledged effect of the ledger, as the restarted service answers now. */
export const checkPromises = async (w: Workload): Promise<void> => {
  // Past the grace window every rotated token is plain reuse (a retried parent is forgiven only inside it).
  await sleep(w.graceMs + 500);
  await w.expireLeases?.();
  await forEachLimit(
    w.accounts.filter((a) => a.registered && a.userId === null),
    8,
    async (who) => {
      const token = (await w.mailbox.waitFor(who.email, 'verification', 30_000))?.at(-1)?.token;
      if (token) {
        who.userId = userIdOfToken(token);
        return;
      }
      // No verification mail ever came: is the account there at all? A pending one answers 403.
      const a = await loginStatus(w, who, who.password);
      w.violations.push(
        a?.status === 403
          ? `${who.email}: registered, but its verification mail never went out`
          : `${who.email}: an acknowledged registration is gone (login: ${code(a)})`,
      );
    },
  );
  await forEachLimit(
    w.accounts.filter((a) => a.registered && a.userId !== null),
    4,
    async (who) => {
      if (who.deactivation === 'acked') return checkDeactivated(w, who);
      if (who.verified !== 'acked') {
        // Its link verifies now; after a lost attempt it may already have (then it is spent: 400).
        const token = w.mailbox.to(who.email, 'verification').at(-1)?.token;
        const verify = answered(
          w,
          `verify ${who.email}`,
          await w.svc.call('POST', '/v1/auth/verify-email', { token }),
        );
        if (verify && !(verify.status === 200 || (verify.status === 400 && who.verified === 'unsure')))
          w.violations.push(`verify ${who.email}: ${code(verify)}`);
      }
      await checkSessions(w, who);
      await checkPasswords(w, who);
    },
  );
};

type UserView = Record<string, unknown> & { id: string; position: string };
type UserRow = Record<string, unknown> & { id: string };

/** The fields the read model and the fold share. */
const COMPARED = [
  'email',
  'username',
  'status',
  'roles',
  'email_verified',
  'failed_logins',
  'locked_until',
  'created_at',
  'revision',
];

const shape = (user: Record<string, unknown>) =>
  Object.fromEntries(
    COMPARED.map((k) => [k, k === 'roles' ? [...((user[k] as string[]) ?? [])].sort() : user[k]]),
  );

const readModel = async (w: Workload): Promise<Map<string, UserRow>> => {
  const rows = new Map<string, UserRow>();
  let cursor: string | null = null;
  do {
    const query: string = `/v1/admin/users?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const a = answered(
      w,
      'admin user list',
      await w.svc.call('GET', query, undefined, bearer(w.admin.access)),
    );
    if (!a || a.status !== 200) throw new Error(`admin user list: ${code(a)}`);
    const page = a.body as { users: UserRow[]; next_cursor: string | null };
    for (const u of page.users) rows.set(u.id, u);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
};

/**
 * The read model converges to the fold of the events: once the projection has reached the newest
 * position of any user stream, every row equals `GET /v1/admin/users/{id}` and every known user has one.
 */
export const checkReadModel = async (w: Workload): Promise<number> => {
  const ids = new Set([w.admin.userId, ...w.accounts.flatMap((a) => (a.userId ? [a.userId] : []))]);
  for (const id of (await readModel(w)).keys()) ids.add(id);
  const views = new Map<string, UserView>();
  await forEachLimit([...ids], 8, async (id) => {
    const a = answered(
      w,
      `admin user ${id}`,
      await w.svc.call('GET', `/v1/admin/users/${id}`, undefined, bearer(w.admin.access)),
    );
    if (a && expectStatus(w, `the write side of user ${id}`, a, 200)) views.set(id, a.body as UserView);
  });
  for (const who of w.accounts) {
    const view = who.userId ? views.get(who.userId) : undefined;
    if (!view) continue;
    if (who.deactivation === 'acked' && view.status !== 'deactivated')
      w.violations.push(`${who.email}: an acknowledged deactivation is gone (${String(view.status)})`);
    if (who.verified === 'acked' && view.email_verified !== true)
      w.violations.push(`${who.email}: an acknowledged verification is gone`);
  }
  const newest =
    [...views.values()]
      .map((v) => v.position)
      .sort()
      .at(-1) ?? '';
  const deadline = Date.now() + 30_000;
  for (;;) {
    const a = answered(
      w,
      'read model catch-up',
      await w.svc.call(
        'GET',
        `/v1/admin/users?limit=1&min_position=${newest}`,
        undefined,
        bearer(w.admin.access),
      ),
    );
    if (a?.status === 200 && a.headers.get('x-read-model-stale') !== 'true') break;
    if (Date.now() > deadline) {
      w.violations.push('the user directory did not catch up with the events within 30 s');
      break;
    }
  }
  const rows = await readModel(w);
  for (const [id, view] of views) {
    const row = rows.get(id);
    if (!row) {
      w.violations.push(`user ${id} is missing from the read model`);
      continue;
    }
    if (JSON.stringify(shape(row)) !== JSON.stringify(shape(view)))
      w.violations.push(
        `user ${id}: read model ${JSON.stringify(shape(row))} != fold ${JSON.stringify(shape(view))}`,
      );
  }
  return views.size;
};

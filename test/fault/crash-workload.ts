/**
 * The mixed load of the crash test and the ledger of what the service ACKNOWLEDGED. Each simulated user
 * registers, follows the verification link from its mail, signs in, rotates its refresh token, changes its
 * password and signs in again; an admin deactivates some of them meanwhile. Only a 2xx answer counts as a
 * promise: a call whose connection died with the process (`lost`) or that answered 503 may or may not have
 * taken effect, and the ledger keeps both possibilities open (`unsurePassword`, `verified: 'unsure'`).
 *
 * During the load the ledger is already checked: after an acknowledged rotation the new token must rotate,
 * after an acknowledged verification the login must not answer email-not-verified, and so on. The final
 * checks (checkPromises, checkReadModel) run once the service is back for good.
 */
import { userIdOfToken } from '../support/account-flows';
import type { Mailbox } from '../support/mailbox';
import { bearer, type Answer, type Outcome, type ServiceProcess } from '../support/service-process';

export type Session = {
  access: string;
  /** The newest refresh token an acknowledged answer handed out. */
  refresh: string;
  /** Tokens whose rotation was acknowledged: each is dead from then on. */
  rotated: string[];
  /** false once an acknowledged change of password from another session ended it. */
  alive: boolean | 'unknown';
};

export type Account = {
  email: string;
  userId: string | null;
  /** The password of the last acknowledged registration or change. */
  password: string;
  /** Passwords an acknowledged change replaced: none of them may work any more. */
  formerPasswords: string[];
  /** A change whose answer was lost: exactly one of `password` and this works. */
  unsurePassword: string | null;
  registered: boolean;
  verified: 'no' | 'acked' | 'unsure';
  sessions: Session[];
  deactivation: 'none' | 'requested' | 'acked';
};

export type Workload = {
  svc: ServiceProcess;
  mailbox: Mailbox;
  admin: { userId: string; access: string };
  accounts: Account[];
  violations: string[];
  stats: Record<string, { acked: number; lost: number; unavailable: number }>;
  stopping: boolean;
  graceMs: number;
  /**
   * Ends the mail leases a killed process left (as if their time had passed). On PostgreSQL several
   * instances may send, so a lease outlives its holder by up to two minutes; the embedded store admits one
   * process and the service itself releases them on start.
   */
  expireLeases?: () => Promise<void>;
};

let sequence = 0;
const RUN = Date.now().toString(36);
export const newPassword = (): string => `plum-violet-harbour-${RUN}-${(sequence += 1)}`;
export const newEmail = (prefix: string): string => `${prefix}.${RUN}.${(sequence += 1)}@example.com`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (min: number, max: number) => sleep(min + Math.random() * (max - min));

const problemCode = (a: Answer): string => (a.body as { code?: string } | undefined)?.code ?? '';

/**
 * The outcome of a call in the ledger's terms. A 5xx other than 503 is a broken promise in itself (the
 * contract allows no 500 for a store that went away); a 503 is "not done, retry".
 */
const classify = (w: Workload, op: string, outcome: Outcome): Answer | 'unsure' => {
  const s = (w.stats[op] ??= { acked: 0, lost: 0, unavailable: 0 });
  if (outcome.kind === 'lost') {
    s.lost += 1;
    return 'unsure';
  }
  if (outcome.status === 503) {
    s.unavailable += 1;
    if (!outcome.headers.get('retry-after')) w.violations.push(`${op}: 503 without Retry-After`);
    return 'unsure';
  }
  if (outcome.status >= 500) w.violations.push(`${op}: answered ${outcome.status} ${outcome.text}`);
  if (outcome.status >= 200 && outcome.status < 300) s.acked += 1;
  return outcome;
};

/** Retries a call while its outcome is unknown; `onUnsure` runs once per lost attempt. */
const until = async (
  w: Workload,
  op: string,
  call: () => Promise<Outcome>,
  onUnsure: () => void = () => undefined,
): Promise<Answer> => {
  for (let attempt = 0; ; attempt += 1) {
    const a = classify(w, op, await call());
    if (a !== 'unsure') return a;
    onUnsure();
    if (attempt > 50) throw new Error(`${op}: no answer after ${attempt} attempts`);
    await sleep(100);
  }
};

type Tokens = { access_token: string; refresh_token: string };

const unexpected = (w: Workload, who: Account, op: string, a: Answer): void => {
  // A deactivated user's own calls are refused (409 where the account's state forbids the command): that
  // is the deactivation holding, not a lost promise.
  if (who.deactivation !== 'none' && [401, 403, 409].includes(a.status)) return;
  w.violations.push(`${op} for ${who.email}: unexpected ${a.status} ${problemCode(a)}`);
};

const login = async (w: Workload, who: Account): Promise<Session | null> => {
  const a = await until(w, 'login', () =>
    w.svc.call('POST', '/v1/auth/login', { email: who.email, password: who.password }),
  );
  if (a.status !== 200) {
    if (a.status === 403 && who.verified === 'acked') {
      w.violations.push(`login for ${who.email}: acknowledged verification lost (${problemCode(a)})`);
    } else unexpected(w, who, 'login', a);
    return null;
  }
  const tokens = a.body as Tokens;
  const session: Session = {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    rotated: [],
    alive: true,
  };
  who.sessions.push(session);
  return session;
};

/**
 * One rotation; false when the session can no longer be used. A lost attempt is retried with the same
 * token: within the grace window that returns the successor, after it the retry is reuse and ends the
 * session.
 */
const rotate = async (w: Workload, who: Account, session: Session): Promise<boolean> => {
  let lost = false;
  const a = await until(
    w,
    'refresh',
    () => w.svc.call('POST', '/v1/auth/refresh', { refresh_token: session.refresh }),
    () => (lost = true),
  );
  if (a.status === 200) {
    const tokens = a.body as Tokens;
    session.rotated.push(session.refresh);
    session.refresh = tokens.refresh_token;
    session.access = tokens.access_token;
    return true;
  }
  if (lost && a.status === 401) {
    session.alive = 'unknown';
    return false;
  }
  if (a.status === 401 && who.deactivation === 'none') {
    w.violations.push(`refresh for ${who.email}: an acknowledged refresh token was refused`);
  } else unexpected(w, who, 'refresh', a);
  session.alive = 'unknown';
  return false;
};

const changePassword = async (w: Workload, who: Account, session: Session): Promise<boolean> => {
  const next = newPassword();
  const outcome = await w.svc.call(
    'POST',
    '/v1/auth/change-password',
    { current_password: who.password, new_password: next },
    bearer(session.access),
  );
  const a = classify(w, 'change-password', outcome);
  if (a === 'unsure') {
    who.unsurePassword = next;
    for (const s of who.sessions) if (s !== session && s.alive === true) s.alive = 'unknown';
    return false;
  }
  if (a.status !== 204) {
    unexpected(w, who, 'change-password', a);
    return false;
  }
  who.formerPasswords.push(who.password);
  who.password = next;
  // Every other session ends; the one that made the change stays.
  for (const s of who.sessions) if (s !== session) s.alive = false;
  return true;
};

/** One user's life; returns early where the ledger could no longer tell what is true. */
export const runUser = async (w: Workload, who: Account): Promise<void> => {
  let lost = false;
  const reg = await until(
    w,
    'register',
    () => w.svc.call('POST', '/v1/auth/register', { email: who.email, password: who.password }),
    () => (lost = true),
  );
  // A registration killed between reserving the address and writing the account holds the address for
  // a minute (ORPHAN_AFTER_MS): until then a retry is told 409, and nothing was promised.
  if (reg.status === 409 && lost) return;
  if (reg.status !== 202) return unexpected(w, who, 'register', reg);
  who.registered = true;

  // The mail goes out through the outbox after the answer, across a restart too. One a killed sender had
  // claimed waits for its lease (Workload.expireLeases); checkPromises waits for it and tells a lost mail
  // from a lost registration.
  const mails = await w.mailbox.waitFor(who.email, 'verification', 10_000);
  const token = mails?.at(-1)?.token;
  if (!token) return;

  who.userId = userIdOfToken(token);
  const verified = await until(
    w,
    'verify-email',
    () => w.svc.call('POST', '/v1/auth/verify-email', { token }),
    () => (who.verified = 'unsure'),
  );
  if (verified.status === 200) who.verified = 'acked';
  // A repeat of a token a lost attempt already used is refused; the login below tells the truth.
  else if (!(verified.status === 400 && who.verified === 'unsure'))
    return unexpected(w, who, 'verify-email', verified);

  let session = await login(w, who);
  for (let round = 0; session && round < 2; round += 1) {
    for (let i = 0, n = 1 + Math.floor(Math.random() * 3); i < n; i += 1) {
      await jitter(0, 120);
      if (!(await rotate(w, who, session))) {
        session = await login(w, who);
        if (!session) return;
      }
    }
    if (round === 0 && Math.random() < 0.7) {
      if (!(await changePassword(w, who, session))) return;
      session = await login(w, who);
    }
  }
};

/** Deactivates a signed-in user now and then, retrying until the answer is known. */
export const runAdmin = async (w: Workload): Promise<void> => {
  while (!w.stopping) {
    await jitter(300, 900);
    const eligible = w.accounts.filter((a) => a.userId && a.sessions.length > 0 && a.deactivation === 'none');
    const target = eligible[Math.floor(Math.random() * eligible.length)];
    if (!target?.userId || w.accounts.filter((a) => a.deactivation !== 'none').length * 5 > w.accounts.length)
      continue;
    target.deactivation = 'requested';
    const a = await until(w, 'deactivate', () =>
      w.svc.call(
        'POST',
        `/v1/admin/users/${target.userId}/deactivate`,
        { reason: 'fault test' },
        bearer(w.admin.access),
      ),
    );
    if (a.status === 204) target.deactivation = 'acked';
    else w.violations.push(`deactivate ${target.email}: unexpected ${a.status} ${problemCode(a)}`);
  }
};

/** Workers that each run one new user after another until the load is stopped. */
export const runUsers = async (w: Workload, workers: number): Promise<void> => {
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!w.stopping) {
        const who: Account = {
          email: newEmail('crash'),
          userId: null,
          password: newPassword(),
          formerPasswords: [],
          unsurePassword: null,
          registered: false,
          verified: 'no',
          sessions: [],
          deactivation: 'none',
        };
        w.accounts.push(who);
        await runUser(w, who);
      }
    }),
  );
};

import { asUser, handle, type CommandContext, type LoadedStream } from '../write/handle';
import { findAccountByEmail } from '../user/find-account';
import {
  checkPassword,
  startLoginAttempt,
  isAccount,
  userDecider,
  userStreamId,
  type LoginAttemptDecision,
  type LoginDecision,
  type LoginOutcome,
  type UserEvent,
  type UserState,
} from '../../domain/user';
import type { Decision } from '../../domain/shared/decider';
import { sessionDecider, sessionStreamId, type StartSession } from '../../domain/session';
import { issueTokens, type IssuedTokens, type SessionDeps } from './deps';

export type LoginInput = { email: string; password: string; userAgent?: string; ip?: string };

/**
 * `invalid_credentials` covers every failure before the password is proven, with `reason` for logs and
 * metrics only: the caller answers all of them alike (CONTRACT.md, no account enumeration).
 */
export type LoginResult =
  | { kind: 'ok'; tokens: IssuedTokens }
  | { kind: 'invalid_credentials'; reason: Exclude<LoginOutcome, 'ok' | 'email_not_verified'> | 'unknown' }
  | { kind: 'email_not_verified' };

/** How a login ended, as `identity_logins_total` counts it; an unknown address is invalid credentials. */
export type LoginTally = 'success' | 'invalid_credentials' | 'locked' | 'unverified' | 'deactivated';

export const loginTally = (result: LoginResult): LoginTally => {
  switch (result.kind) {
    case 'ok':
      return 'success';
    case 'email_not_verified':
      return 'unverified';
    case 'invalid_credentials':
      return result.reason === 'locked' || result.reason === 'deactivated'
        ? result.reason
        : 'invalid_credentials';
  }
};

/** A user agent is shown back in the session list; anything longer is noise, not identification. */
const MAX_USER_AGENT = 512;

type PasswordCheck = { verified: boolean; rehashed?: string };

/**
 * Login: find the account on the write side, reserve a password check in the user stream, prove the
 * password, record its outcome on the revision it was decided on, then start a session in a stream of its
 * own (docs/design.md, "Sessions", "Lockout"). The reservation is what bounds a burst of parallel guesses
 * to the policy's number of checks, on any number of instances.
 */
export const login = async (
  deps: SessionDeps,
  input: LoginInput,
  request: CommandContext,
): Promise<LoginResult> => {
  const { now } = request;
  const found = (await findAccountByEmail(deps, input.email))?.user;
  if (!found || !isAccount(found.state)) {
    // Equal work for an unknown address: the answer's timing must not tell that it exists (CWE-208).
    await deps.hasher.verifyDummy(input.password);
    return { kind: 'invalid_credentials', reason: 'unknown' };
  }
  const { userId } = found;
  const ctx = asUser(request, userId);

  // 1. Reserve a guess (docs/design.md, "Lockout"). Locked, deactivated, or every guess left already held
  // by checks in flight: refused without checking the password and without recording anything. The dummy
  // verify keeps the work the same as for a wrong password or an unknown address.
  const attemptId = deps.ids.uuid();
  const reserved = await handle(
    deps.store,
    userDecider,
    userStreamId(userId),
    ({ state }: LoadedStream<UserState>): Decision<LoginAttemptDecision['outcome'] | 'unknown', UserEvent> =>
      isAccount(state)
        ? startLoginAttempt({ type: 'StartLoginAttempt', data: { attemptId, now } }, state)
        : { outcome: 'unknown' as const, events: [] },
    ctx,
    // Every attempt of a burst must get its answer from the stream as it is: retry generously.
    { initial: found, attempts: 16 },
  );
  if (reserved.outcome !== 'started') {
    await deps.hasher.verifyDummy(input.password);
    return {
      kind: 'invalid_credentials',
      reason: reserved.outcome,
    };
  }

  // 2. Check the password, then record the outcome on the stream as it is now: a concurrent failure that
  // locked the account meanwhile makes the append conflict, and the decision is taken again on it.
  // Keyed by the sealed hash: a retry after a concurrent password change must verify against the new one.
  const checks = new Map<string, PasswordCheck>();
  const check = async (sealedHash: string): Promise<PasswordCheck> => {
    const known = checks.get(sealedHash);
    if (known) return known;
    const result = await verifyPassword(deps, userId, sealedHash, input.password);
    checks.set(sealedHash, result);
    return result;
  };
  const decided = await handle(
    deps.store,
    userDecider,
    userStreamId(userId),
    async ({ state }: LoadedStream<UserState>): Promise<LoginDecision> => {
      // Erased between the lookup and now: as unknown as any other missing account.
      if (!isAccount(state)) return { outcome: 'invalid_credentials' as const, events: [] };
      const proof = await check(state.passwordHash);
      return checkPassword(
        {
          type: 'CheckPassword',
          data: {
            attemptId,
            passwordVerified: proof.verified,
            ...(proof.rehashed !== undefined ? { rehashedPasswordHash: proof.rehashed } : {}),
            requireVerification: deps.sessions.requireVerifiedEmail,
            now,
          },
        },
        state,
      );
    },
    ctx,
    {
      initial: { state: reserved.state, revision: reserved.revision, last: null },
      attempts: 16,
    },
  );

  switch (decided.outcome) {
    case 'ok':
      break;
    case 'email_not_verified':
      return { kind: 'email_not_verified' };
    default:
      return { kind: 'invalid_credentials', reason: decided.outcome };
  }
  if (!isAccount(decided.state)) return { kind: 'invalid_credentials', reason: 'unknown' };

  const sessionId = deps.ids.uuid();
  const nonce = deps.ids.uuid();
  const first = deps.refreshTokens.derive(sessionId, 0, nonce);
  const [userAgent, ip] = await Promise.all([
    sealOptional(deps, userId, input.userAgent?.slice(0, MAX_USER_AGENT)),
    sealOptional(deps, userId, input.ip),
  ]);
  const start: StartSession = {
    type: 'StartSession',
    data: {
      sessionId,
      userId,
      // The cut-off design: the session is alive only while no later user event has ended every session.
      startedAtUserRevision: decided.revision,
      refreshTokenHash: first.tokenHash,
      nonce,
      idleMs: deps.sessions.idleMs,
      absoluteMs: deps.sessions.absoluteMs,
      ...(userAgent !== undefined ? { userAgent } : {}),
      ...(ip !== undefined ? { ip } : {}),
      now,
    },
  };
  // A fresh random id: the stream is new by construction, so there is nothing to load before deciding.
  await handle(deps.store, sessionDecider, sessionStreamId(sessionId), start, ctx, {
    initial: { state: sessionDecider.initialState, revision: -1, last: null },
    attempts: 1,
  });
  const tokens = await issueTokens(deps, {
    userId,
    sessionId,
    roles: decided.state.roles,
    refreshToken: first.token,
  });
  return { kind: 'ok', tokens };
};

const verifyPassword = async (
  deps: Pick<SessionDeps, 'hasher' | 'vault'>,
  userId: string,
  sealedHash: string,
  password: string,
): Promise<PasswordCheck> => {
  const hash = await deps.vault.open(userId, sealedHash);
  if (hash === null) {
    // The key is gone (erased meanwhile): nothing to verify against, but the same work is done.
    await deps.hasher.verifyDummy(password);
    return { verified: false };
  }
  if (!(await deps.hasher.verify(hash, password))) return { verified: false };
  if (!deps.hasher.needsRehash(hash)) return { verified: true };
  // The parameters rose since this hash was made: upgrade it now that the password is at hand.
  return { verified: true, rehashed: await deps.vault.seal(userId, await deps.hasher.hash(password)) };
};

const sealOptional = async (
  deps: Pick<SessionDeps, 'vault'>,
  userId: string,
  value: string | undefined,
): Promise<string | undefined> =>
  value === undefined || value === '' ? undefined : deps.vault.seal(userId, value);

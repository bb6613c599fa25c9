import type { Request, Response } from 'express';
import type { SessionDeps, Origin, IssuedTokens } from '../application/session/deps';
import { listSessions, type SessionCandidates } from '../application/session/list-sessions';
import { login, type LoginResult } from '../application/session/login';
import { endOwnSession, logout, logoutAll } from '../application/session/logout';
import { refresh } from '../application/session/refresh';
import { getProfile } from '../application/user/profile';
import type { LoginOutcome as LoginMetric } from '../infrastructure/metrics';
import type { Runtime } from '../infrastructure/runtime';
import { waitForProjection } from '../projections';
import { listSessionsOfUser } from '../projections/sessions/queries';
import type { Services } from '../infrastructure/services';
import { noStore, onceOnly, perIpLimit } from './account-http';
import { authenticate, authOf } from './authenticate';
import { bodyKind, parseBody } from './body';
import { idempotency } from './idempotency';
import { problem } from './problem';
import { createRouteTable, type RouteTable } from './routes';
import { UniformTiming } from './uniform-timing';
import {
  EmptyRequest,
  LoginFormRequest,
  LoginRequest,
  LogoutRequest,
  RefreshRequest,
  type SessionListResponse,
  type TokenResponse,
} from './session-schemas';

const fromForm = (body: unknown) => {
  const { username, password } = LoginFormRequest.parse(body);
  return { email: username, password };
};

export type SessionRoutesDeps = {
  services: Services;
  /** Sessions a read model believes alive; each is checked again on the write side. */
  candidates: SessionCandidates;
  /** Read-your-writes for the session list: resolves once the read model has seen the latest event. */
  catchUp: () => Promise<void>;
};

const origin = (req: Request): Origin => ({ correlationId: req.id, causationId: req.id });

/** RFC 6749 §5.1: token answers must not be cached anywhere. */
const sendTokens = (res: Response, tokens: IssuedTokens): void => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  const body: TokenResponse = {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
    refresh_token: tokens.refreshToken,
  };
  res.status(200).json(body);
};

/** The outcome label of `identity_logins_total`; unknown addresses count as invalid credentials. */
const loginMetric = (result: LoginResult): LoginMetric => {
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

export const sessionSettings = (config: Services['config']): SessionDeps['settings'] => ({
  requireVerifiedEmail: config.requireVerifiedEmail,
  idleMs: config.sessions.idleTimeoutSeconds * 1000,
  absoluteMs: config.sessions.absoluteTimeoutSeconds * 1000,
  graceMs: config.sessions.reuseGraceSeconds * 1000,
});

/**
 * Login, refresh-token rotation, logout, the token check, and the caller's session list (CONTRACT.md
 * "Accounts").
 */
export const sessionRoutes = ({ services, candidates, catchUp }: SessionRoutesDeps): RouteTable => {
  const { config } = services;
  const deps: SessionDeps = { ...services, settings: sessionSettings(config) };
  const table = createRouteTable();
  const auth = authenticate(services);
  // Login and refresh answers carry credentials: their successes are never written to the key table
  // (a replay of one is 409, see idempotency.ts); refresh retries are safe anyway through the grace window.
  const onceWithoutAnswer = idempotency(services.sql, {
    storeBody: false,
    hashKey: services.keys.idempotency,
    logger: services.logger,
  });

  // A refused login of an existing account writes twice around the password check; an unknown address or a
  // locked account only verifies a dummy hash. Every refusal leaves when the checked one would.
  const refusedLogin = new UniformTiming({ initialMs: 90 });
  table.add(
    'post',
    '/v1/auth/login',
    perIpLimit(services, 'login', config.rateLimits.loginPerMinute),
    parseBody('json', 'form'),
    onceWithoutAnswer,
    async (req, res) => {
      const credentials = bodyKind(req) === 'form' ? fromForm(req.body) : LoginRequest.parse(req.body);
      const answer = refusedLogin.begin();
      const result = await login(
        deps,
        { ...credentials, userAgent: req.get('user-agent'), ip: req.ip },
        origin(req),
      );
      services.metrics.login(loginMetric(result));
      switch (result.kind) {
        case 'ok':
          return sendTokens(res, result.tokens);
        case 'email_not_verified':
          throw problem('email-not-verified', 'Verify the email address before signing in');
        case 'invalid_credentials':
          req.log.info({ reason: result.reason }, 'login refused');
          await answer.hold(result.reason === 'invalid_credentials', res);
          throw problem('invalid-credentials', 'The email or password is not correct');
      }
    },
  );

  table.add(
    'post',
    '/v1/auth/refresh',
    perIpLimit(services, 'refresh', config.rateLimits.refreshPerMinute),
    parseBody('json'),
    onceWithoutAnswer,
    async (req, res) => {
      const body = RefreshRequest.parse(req.body);
      sendTokens(res, await refresh(deps, body.refresh_token, origin(req)));
    },
  );

  table.add('post', '/v1/auth/logout', parseBody('json'), onceOnly(services, false), async (req, res) => {
    const body = LogoutRequest.parse(req.body);
    await logout(deps, body.refresh_token, origin(req));
    res.status(204).end();
  });

  table.add(
    'post',
    '/v1/auth/logout-all',
    auth,
    parseBody('json'),
    onceOnly(services, true),
    async (req, res) => {
      EmptyRequest.parse(req.body);
      await logoutAll(deps, authOf(res).userId, origin(req));
      res.status(204).end();
    },
  );

  // The caller's profile, as GET /v1/users/me answers it: a client's check that its token works.
  table.add('post', '/v1/auth/test-token', noStore, auth, async (_req, res) => {
    const profile = await getProfile(services, authOf(res).userId);
    // Erased between the bearer check and now: the token is no longer good for anything.
    if (!profile) throw problem('invalid-token', 'The access token is invalid, expired or revoked');
    res.json(profile);
  });

  table.add('get', '/v1/users/me/sessions', noStore, auth, async (_req, res) => {
    await catchUp();
    const sessions = await listSessions({ ...services, candidates }, authOf(res));
    const body: SessionListResponse = {
      sessions: sessions.map((s) => ({
        id: s.id,
        created_at: s.createdAt.toISOString(),
        last_used_at: s.lastUsedAt.toISOString(),
        user_agent: s.userAgent,
        current: s.current,
      })),
    };
    res.json(body);
  });

  table.add('delete', '/v1/users/me/sessions/:id', auth, async (req, res) => {
    await endOwnSession(deps, authOf(res).userId, String(req.params.id), origin(req));
    res.status(204).end();
  });

  return table;
};

/** How long the session list waits for the read model to see the latest event before answering. */
const LIST_CATCH_UP_MS = 2_000;

/** The session routes wired to the service: candidates from the `sessions` read model. */
export const sessionTable = (services: Services, runtime: Runtime): RouteTable =>
  sessionRoutes({
    services,
    candidates: async (userId) =>
      (await listSessionsOfUser(services.sql, userId, services.clock.now())).map((s) => s.id),
    // A login on another device a moment ago must show: wait until the read model has seen everything
    // committed so far (bounded; the write-side check keeps the answer correct, only possibly short).
    catchUp: async () => {
      const [head] = (await services.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
      if (head) await waitForProjection(runtime, 'sessions', head.position, LIST_CATCH_UP_MS);
    },
  });

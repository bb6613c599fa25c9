import type { RequestHandler, Response } from 'express';
import type { IssuedTokens } from '../../application/session/deps';
import { login, loginTally } from '../../application/session/login';
import { logout, logoutAll } from '../../application/session/logout';
import { refresh } from '../../application/session/refresh';
import { getProfile } from '../../application/user/profile';
import { ANONYMOUS, requestContext } from '../account-http';
import { authOf } from '../authenticate';
import { bodyKind } from '../body';
import type { ApiDeps } from '../deps';
import { ProfileDoc, TokenResponseDoc } from '../openapi/schemas';
import { problem } from '../problem';
import {
  EmptyRequest,
  LoginFormRequest,
  LoginRequest,
  LogoutRequest,
  RefreshRequest,
  type TokenResponse,
} from '../session-schemas';
import { UniformTiming } from '../uniform-timing';
import { FORM_TYPE, JSON_TYPE, NO_CONTENT, NO_STORE, json, jsonBody, ok, type RouteDef } from './route';

/**
 * The token endpoints (CONTRACT.md "Accounts"): login, refresh-token rotation, logout, and the token
 * check. Registration and passwords are in accounts.ts; the caller's session list in sessions.ts.
 */

const fromForm = (body: unknown) => {
  const { username, password } = LoginFormRequest.parse(body);
  return { email: username, password };
};

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

/** `POST /v1/auth/login`: the password grant, through application/session/login.ts. */
const loginHandler = (deps: ApiDeps): RequestHandler => {
  // A refused login of an existing account writes twice around the password check; an unknown address or a
  // locked account only verifies a dummy hash. Every refusal leaves when the checked one would.
  const refusedLogin = new UniformTiming({ initialMs: 90 });
  return async (req, res) => {
    const credentials = bodyKind(req) === 'form' ? fromForm(req.body) : LoginRequest.parse(req.body);
    const answer = refusedLogin.begin();
    const result = await login(
      deps,
      { ...credentials, userAgent: req.get('user-agent'), ip: req.ip },
      requestContext(req, deps, ANONYMOUS),
    );
    deps.metrics.login(loginTally(result));
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
  };
};

const TOKENS_HEADERS = { ...NO_STORE, Pragma: '`no-cache`' };

// Login and refresh answers carry credentials: their successes are never written to the key table
// (a replay of one is 409, see idempotency.ts); refresh retries are safe anyway through the grace window.
export const AUTH_ROUTES: RouteDef<ApiDeps>[] = [
  {
    method: 'post',
    path: '/v1/auth/login',
    summary: 'Sign in: the resource owner password grant',
    description:
      'JSON `{email, password}`, or the OAuth form `username=&password=` (RFC 6749 §4.3.2). Every failure ' +
      'before the password is proven (unknown address, wrong password, locked, deactivated) is the same 401.',
    tag: 'Sessions',
    rateLimit: { bucket: 'login', perMinute: 'loginPerMinute' },
    idempotency: 'no-replay',
    store: true,
    request: {
      body: { required: true, content: { [JSON_TYPE]: LoginRequest, [FORM_TYPE]: LoginFormRequest } },
    },
    responses: { 200: ok('Signed in', TokenResponseDoc, TOKENS_HEADERS) },
    problems: ['invalid-credentials', 'email-not-verified'],
    handler: loginHandler,
  },
  {
    method: 'post',
    path: '/v1/auth/refresh',
    summary: 'Rotate the refresh token',
    description:
      'Answers a NEW refresh token. Reusing a rotated one ends the session, except a retry of the immediate ' +
      'parent within the grace window, which gets the same successor again.',
    tag: 'Sessions',
    rateLimit: { bucket: 'refresh', perMinute: 'refreshPerMinute' },
    idempotency: 'no-replay',
    store: true,
    request: { body: jsonBody(RefreshRequest) },
    responses: { 200: ok('Rotated', TokenResponseDoc, TOKENS_HEADERS) },
    problems: ['invalid-refresh-token'],
    handler: (deps) => async (req, res) => {
      const body = RefreshRequest.parse(req.body);
      sendTokens(res, await refresh(deps, body.refresh_token, requestContext(req, deps, ANONYMOUS)));
    },
  },
  {
    method: 'post',
    path: '/v1/auth/logout',
    summary: 'End the session of a refresh token',
    description: 'Its refresh token and its access tokens stop working at once.',
    tag: 'Sessions',
    idempotency: 'replay',
    store: true,
    request: { body: jsonBody(LogoutRequest) },
    responses: { 204: NO_CONTENT },
    problems: ['invalid-refresh-token'],
    handler: (deps) => async (req, res) => {
      const body = LogoutRequest.parse(req.body);
      await logout(deps, body.refresh_token, requestContext(req, deps, ANONYMOUS));
      res.status(204).end();
    },
  },
  {
    method: 'post',
    path: '/v1/auth/logout-all',
    summary: 'End every session of the caller',
    tag: 'Sessions',
    bearer: true,
    idempotency: 'replay',
    store: true,
    // No body; an empty JSON object is tolerated (the object arm of `EmptyRequest`).
    request: { body: { required: false, content: json(EmptyRequest.options[1]) } },
    responses: { 204: NO_CONTENT },
    handler: (deps) => async (req, res) => {
      EmptyRequest.parse(req.body);
      const { userId } = authOf(res);
      await logoutAll(deps, userId, requestContext(req, deps, { type: 'user', id: userId }));
      res.status(204).end();
    },
  },
  {
    // The caller's profile, as GET /v1/users/me answers it: a client's check that its token works.
    method: 'post',
    path: '/v1/auth/test-token',
    summary: "Check an access token: the caller's profile",
    tag: 'Sessions',
    noStore: true,
    bearer: true,
    store: true,
    responses: { 200: ok('The token is good', ProfileDoc, NO_STORE) },
    handler: (deps) => async (_req, res) => {
      const profile = await getProfile(deps, authOf(res).userId);
      // Erased between the bearer check and now: the token is no longer good for anything.
      if (!profile) throw problem('invalid-token', 'The access token is invalid, expired or revoked');
      res.json(profile);
    },
  },
];

import { listSessions, type SessionCandidates } from '../../application/session/list-sessions';
import { endOwnSession } from '../../application/session/logout';
import { waitForProjection } from '../../projections';
import { listSessionsOfUser } from '../../projections/sessions/queries';
import { requestContext } from '../account-http';
import { authOf } from '../authenticate';
import type { ApiDeps } from '../deps';
import { SessionIdPath, SessionListDoc } from '../openapi/schemas';
import type { SessionListResponse } from '../session-schemas';
import { AUTH_ROUTES } from './auth';
import { mountRoutes } from './mount';
import { NO_CONTENT, NO_STORE, ok, type RouteDef } from './route';
import type { RouteTable } from './table';

export type SessionRoutesDeps = ApiDeps & {
  /** Sessions a read model believes alive; each is checked again on the write side. */
  candidates: SessionCandidates;
  /** Read-your-writes for the session list: resolves once the read model has seen the latest event. */
  catchUp: () => Promise<void>;
};

/** The caller's session list (CONTRACT.md "Accounts"), and ending one of them. */
export const SESSION_ROUTES: RouteDef<SessionRoutesDeps>[] = [
  {
    method: 'get',
    path: '/v1/users/me/sessions',
    summary: "The caller's live sessions",
    tag: 'Sessions',
    noStore: true,
    bearer: true,
    store: true,
    responses: { 200: ok('Sessions; `current` marks the one of this token', SessionListDoc, NO_STORE) },
    handler: (deps) => async (_req, res) => {
      await deps.catchUp();
      const sessions = await listSessions(deps, authOf(res));
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
    },
  },
  {
    method: 'delete',
    path: '/v1/users/me/sessions/:id',
    summary: 'End one of the caller’s sessions',
    tag: 'Sessions',
    bearer: true,
    store: true,
    request: { params: SessionIdPath },
    responses: { 204: NO_CONTENT },
    problems: ['not-found'],
    handler: (deps) => async (req, res) => {
      const { userId } = authOf(res);
      const ctx = requestContext(req, deps, { type: 'user', id: userId });
      await endOwnSession(deps, userId, String(req.params.id), ctx);
      res.status(204).end();
    },
  },
];

/** How long the session list waits for the read model to see the latest event before answering. */
const LIST_CATCH_UP_MS = 2_000;

/** The token endpoints and the session list, wired to the service: candidates from the `sessions` model. */
export const sessionTable = (api: ApiDeps): RouteTable => {
  const deps: SessionRoutesDeps = {
    ...api,
    candidates: async (userId) =>
      (await listSessionsOfUser(api.sql, userId, api.clock.now())).map((s) => s.id),
    // A login on another device a moment ago must show: wait until the read model has seen everything
    // committed so far (bounded; the write-side check keeps the answer correct, only possibly short).
    catchUp: async () => {
      const [head] = (await api.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
      if (head) await waitForProjection(api.runtime, 'sessions', head.position, LIST_CATCH_UP_MS);
    },
  };
  return mountRoutes<SessionRoutesDeps>([...AUTH_ROUTES, ...SESSION_ROUTES], deps, deps);
};

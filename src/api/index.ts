import type { Express } from 'express';
import { projections } from '../projections';
import { projectionsReadiness } from '../projections/runtime/health';
import { createApp } from './app';
import { corsFor } from './cors';
import type { ApiDeps } from './deps';
import { openApiDocument } from './openapi';
import { accountRoutes } from './routes/accounts';
import { adminRoutes } from './routes/admin';
import { adminQueryRoutes } from './routes/admin-queries';
import { DISCOVERY_ROUTES } from './routes/discovery';
import { DOCS_ROUTES } from './routes/docs';
import { eventRoutes } from './routes/events';
import { HEALTH_ROUTES, runReadinessChecks, type ReadinessCheck } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { mountRoutes } from './routes/mount';
import { sessionTable } from './routes/sessions';
import type { RouteTable } from './routes/table';
import { userRoutes } from './routes/users';
import { selfServiceRoutes } from './routes/self-service';
import { invitationRoutes } from './routes/invitations';
import { mountPages } from '../pages/mount';
import { PAGE_ROUTES } from '../pages/routes';

/** What `/health/ready` asks; the `identity_ready` gauges ask the same at every scrape. */
const readinessChecks = (deps: ApiDeps): ReadinessCheck[] => [
  { name: 'event_store', check: async () => (await deps.store.ping(), { ok: true }) },
  { name: 'database', check: async () => (await deps.sql.query('select 1'), { ok: true }) },
  {
    name: 'projections',
    check: projectionsReadiness({
      ...deps,
      statuses: () => deps.runtime.statuses(),
      projections,
      thresholdSeconds: deps.http.projectionLagThresholdSeconds,
    }),
  },
  // Checks of parts the composition root adds (the relay's targets: degraded, never down).
  ...(deps.readiness ?? []),
];

/** The whole HTTP surface: every router of the service, in one list. */
export const apiTables = (deps: ApiDeps): RouteTable[] => [
  mountRoutes(HEALTH_ROUTES, readinessChecks(deps), {}),
  sessionTable(deps),
  accountRoutes(deps),
  userRoutes(deps),
  selfServiceRoutes(deps),
  adminRoutes(deps),
  invitationRoutes(deps),
  adminQueryRoutes(deps),
  eventRoutes(deps),
  mountRoutes(
    DISCOVERY_ROUTES,
    {
      accessTokens: deps.accessTokens,
      issuer: deps.http.issuer,
      publicUrl: deps.http.publicUrl,
    },
    {},
  ),
  mountRoutes(DOCS_ROUTES, { document: openApiDocument }, {}),
];

export const buildApp = (deps: ApiDeps): Express => {
  const checks = readinessChecks(deps);
  deps.metrics.observeReadiness(async () => {
    const results = await runReadinessChecks(checks);
    return { ok: results.every((r) => r.ok), checks: results };
  });
  return createApp({
    logger: deps.logger,
    trustProxy: deps.http.trustProxy,
    before: [corsFor(deps.http.cors)],
    // The hosted pages (src/pages/): HTML, not part of the JSON API or its document.
    tables: [...apiTables(deps), metricsRoutes(deps.metrics), mountPages(PAGE_ROUTES, deps)],
    onRequestDone: ({ method, route, status, seconds }) =>
      deps.metrics.httpDuration.observe({ method, route, status: String(status) }, seconds),
  });
};

import type { Express } from 'express';
import type { Runtime } from '../infrastructure/runtime';
import type { Services } from '../infrastructure/services';
import { projections } from '../projections';
import { projectionsReadiness } from '../projections/runtime/health';
import { createApp } from './app';
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

/** The whole HTTP surface: every router of the service, in one list. */
/** What `/health/ready` asks; the `identity_ready` gauges ask the same at every scrape. */
const readinessChecks = (services: Services, runtime: Runtime): ReadinessCheck[] => [
  { name: 'event_store', check: async () => (await services.store.ping(), { ok: true }) },
  { name: 'database', check: async () => (await services.sql.query('select 1'), { ok: true }) },
  {
    name: 'projections',
    check: projectionsReadiness({
      ...services,
      statuses: () => runtime.statuses(),
      projections,
      thresholdSeconds: services.config.projectionLagThresholdSeconds,
    }),
  },
];

export const apiTables = (services: Services, runtime: Runtime): RouteTable[] => [
  mountRoutes(HEALTH_ROUTES, readinessChecks(services, runtime), {}),
  sessionTable(services, runtime),
  accountRoutes(services),
  userRoutes(services),
  adminRoutes(services),
  adminQueryRoutes(services, runtime),
  eventRoutes(services),
  mountRoutes(
    DISCOVERY_ROUTES,
    {
      accessTokens: services.accessTokens,
      issuer: services.config.jwt.issuer,
      publicUrl: services.config.publicUrl,
    },
    {},
  ),
  mountRoutes(DOCS_ROUTES, { document: openApiDocument }, {}),
];

export const buildApp = (services: Services, runtime: Runtime): Express => {
  const checks = readinessChecks(services, runtime);
  services.metrics.observeReadiness(async () => {
    const results = await runReadinessChecks(checks);
    return { ok: results.every((r) => r.ok), checks: results };
  });
  return createApp({
    logger: services.logger,
    trustProxy: services.config.trustProxy,
    tables: [...apiTables(services, runtime), metricsRoutes(services.metrics)],
    onRequestDone: ({ method, route, status, seconds }) =>
      services.metrics.httpDuration.observe({ method, route, status: String(status) }, seconds),
  });
};

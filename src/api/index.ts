import type { Express } from 'express';
import type { Runtime } from '../infrastructure/runtime';
import type { Services } from '../infrastructure/services';
import { projections } from '../projections';
import { projectionsReadiness } from '../projections/health';
import { adminRoutes } from './admin';
import { adminQueryRoutes } from './admin-queries';
import { createApp } from './app';
import { authRoutes } from './auth';
import { discoveryRoutes } from './discovery';
import { docsRoutes } from './docs';
import { eventRoutes } from './events';
import { healthRoutes } from './health';
import { sessionTable } from './sessions';
import { metricsRoutes } from './metrics';
import type { RouteTable } from './routes';
import { userRoutes } from './users';

/** The whole HTTP surface: every router of the service, in one list. */
export const apiTables = (services: Services, _runtime: Runtime): RouteTable[] => [
  healthRoutes([
    { name: 'event_store', check: async () => (await services.store.ping(), { ok: true }) },
    { name: 'database', check: async () => (await services.sql.query('select 1'), { ok: true }) },
    {
      name: 'projections',
      check: projectionsReadiness({
        ...services,
        statuses: () => _runtime.statuses(),
        projections,
        thresholdSeconds: services.config.projectionLagThresholdSeconds,
      }),
    },
  ]),
  sessionTable(services, _runtime),
  authRoutes(services),
  userRoutes(services),
  adminRoutes(services),
  adminQueryRoutes(services, _runtime),
  eventRoutes(services),
  discoveryRoutes({
    accessTokens: services.accessTokens,
    issuer: services.config.jwt.issuer,
    publicUrl: services.config.publicUrl,
  }),
  docsRoutes(),
];

export const buildApp = (services: Services, runtime: Runtime): Express =>
  createApp({
    logger: services.logger,
    trustProxy: services.config.trustProxy,
    tables: [...apiTables(services, runtime), metricsRoutes(services.metrics)],
    onRequestDone: ({ method, route, status, seconds }) =>
      services.metrics.httpDuration.observe({ method, route, status: String(status) }, seconds),
  });

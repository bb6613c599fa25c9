import type { Express } from 'express';
import type { Runtime } from '../infrastructure/runtime';
import type { Services } from '../infrastructure/services';
import { projections } from '../projections';
import { projectionsReadiness } from '../projections/runtime/health';
import { relayReadiness } from '../infrastructure/relay/status';
import { createApp } from './app';
import { openApiDocument } from './openapi';
import { accountRoutes } from './routes/accounts';
import { adminRoutes } from './routes/admin';
import { adminQueryRoutes } from './routes/admin-queries';
import { DISCOVERY_ROUTES } from './routes/discovery';
import { DOCS_ROUTES } from './routes/docs';
import { eventRoutes } from './routes/events';
import { HEALTH_ROUTES } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { mountRoutes } from './routes/mount';
import { sessionTable } from './routes/sessions';
import type { RouteTable } from './routes/table';
import { userRoutes } from './routes/users';

/** The whole HTTP surface: every router of the service, in one list. */
export const apiTables = (services: Services, runtime: Runtime): RouteTable[] => [
  mountRoutes(
    HEALTH_ROUTES,
    [
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
      ...(services.relay.length
        ? [
            {
              name: 'relay',
              check: relayReadiness({
                ...services,
                statuses: () => runtime.statuses(),
                thresholdSeconds: services.config.projectionLagThresholdSeconds,
              }),
            },
          ]
        : []),
    ],
    {},
  ),
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

export const buildApp = (services: Services, runtime: Runtime): Express =>
  createApp({
    logger: services.logger,
    trustProxy: services.config.trustProxy,
    tables: [...apiTables(services, runtime), metricsRoutes(services.metrics)],
    onRequestDone: ({ method, route, status, seconds }) =>
      services.metrics.httpDuration.observe({ method, route, status: String(status) }, seconds),
  });

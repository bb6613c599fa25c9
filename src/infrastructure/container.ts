import 'reflect-metadata';
import path from 'node:path';
import { Container } from 'inversify';
import type { Express } from 'express';
import type { EventStore } from '../application/event-store';
import type { SqlClient } from '../application/sql';
import { buildApp } from '../api';
import type { ApiDeps } from '../api/deps';
import type { Config } from './config';
import { lockDataDir } from './data-dir-lock';
import type { Logger } from './logger';
import { PgSqlClient } from './sql/pg-client';
import { PgliteSqlClient } from './sql/pglite-client';
import { migrate } from './sql/migrator';
import { migrations } from './sql/migrations';
import { PostgresEventStore } from './event-store/postgres-event-store';
import { EventStoreDbEventStore } from './event-store/esdb-event-store';
import { createRuntime, type Runtime } from './runtime';
import { createServices, type Services } from './services';
import { subscriptionHandlers } from './subscriptions';
import { relayReadiness } from './relay/status';

/**
 * The composition root's wiring, and the only place that knows the container. Everything is bound as a
 * plain factory (`toDynamicValue`), so domain and application code carry no decorators.
 */
export const TYPES = {
  Config: Symbol.for('Config'),
  Logger: Symbol.for('Logger'),
  Sql: Symbol.for('Sql'),
  EventStore: Symbol.for('EventStore'),
  Services: Symbol.for('Services'),
  Runtime: Symbol.for('Runtime'),
  App: Symbol.for('App'),
} as const;

export type Closer = { name: string; close: () => Promise<void> | void };

export const buildContainer = (
  config: Config,
  logger: Logger,
): { container: Container; closers: Closer[] } => {
  const container = new Container();
  const closers: Closer[] = [];

  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(logger);

  container
    .bind<SqlClient>(TYPES.Sql)
    .toDynamicValue(async () => {
      let sql: SqlClient;
      // EVENT_STORE=embedded keeps everything in the process; otherwise read models, checkpoints and keys
      // live in DATABASE_URL's PostgreSQL, or in the embedded one when it is unset (esdb without PostgreSQL).
      if (config.eventStore !== 'embedded' && config.databaseUrl) {
        sql = new PgSqlClient({ connectionString: config.databaseUrl, logger });
      } else {
        // The embedded store: one process per data directory, or rows are silently lost (FACTS.md).
        const unlock = lockDataDir(config.dataDir);
        closers.push({ name: 'data-dir-lock', close: unlock });
        sql = await PgliteSqlClient.open({ dataDir: path.join(config.dataDir, 'pglite') });
      }
      closers.push({ name: 'sql', close: () => sql.close() });
      await migrate(sql, migrations);
      return sql;
    })
    .inSingletonScope();

  container
    .bind<EventStore>(TYPES.EventStore)
    .toDynamicValue(async (ctx) => {
      const sql = await ctx.getAsync<SqlClient>(TYPES.Sql);
      const store: EventStore =
        config.eventStore === 'esdb'
          ? new EventStoreDbEventStore(config.eventStoreConnectionString as string)
          : new PostgresEventStore(sql);
      // Closed before the SQL client (closers run in reverse order).
      closers.push({ name: 'event-store', close: () => store.close() });
      return store;
    })
    .inSingletonScope();

  container
    .bind<Services>(TYPES.Services)
    .toDynamicValue(async (ctx) => {
      const sql = await ctx.getAsync<SqlClient>(TYPES.Sql);
      const store = await ctx.getAsync<EventStore>(TYPES.EventStore);
      const services = await createServices({ config, logger, sql, store });
      closers.push(...services.closers);
      return services;
    })
    .inSingletonScope();

  container
    .bind<Runtime>(TYPES.Runtime)
    .toDynamicValue(async (ctx) => {
      const services = await ctx.getAsync<Services>(TYPES.Services);
      const runtime = createRuntime(services, subscriptionHandlers(services));
      // Subscriptions stop before the stores close (closers run in reverse order).
      closers.push({ name: 'subscriptions', close: () => runtime.stop() });
      return runtime;
    })
    .inSingletonScope();

  container
    .bind<Express>(TYPES.App)
    .toDynamicValue(async (ctx) => {
      const services = await ctx.getAsync<Services>(TYPES.Services);
      const runtime = await ctx.getAsync<Runtime>(TYPES.Runtime);
      return buildApp(apiDeps(services, runtime));
    })
    .inSingletonScope();

  return { container, closers };
};

/**
 * Opens the service graph without the HTTP server (the CLI): the same stores, keys and migrations as the
 * service. `close` runs every closer in reverse order.
 */
export const openServices = async (
  config: Config,
  logger: Logger,
): Promise<{ services: Services; close: () => Promise<void> }> => {
  const { container, closers } = buildContainer(config, logger);
  const close = async (): Promise<void> => {
    for (const c of [...closers].reverse()) await Promise.resolve(c.close()).catch(() => undefined);
  };
  try {
    return { services: await container.getAsync<Services>(TYPES.Services), close };
  } catch (e) {
    await close();
    throw e;
  }
};

/** What the routes need, from the service graph and its runners (the API declares it: src/api/deps.ts). */
export const apiDeps = (services: Services, runtime: Runtime): ApiDeps => ({
  ...services,
  idempotencyKey: services.keys.idempotency,
  runtime,
  http: {
    trustProxy: services.config.trustProxy,
    publicUrl: services.config.publicUrl,
    issuer: services.config.jwt.issuer,
    rateLimits: services.config.rateLimits,
    projectionLagThresholdSeconds: services.config.projectionLagThresholdSeconds,
    appUrl: services.config.appUrl,
    cors: services.config.cors,
  },
  readiness: services.relay.length
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
    : [],
});

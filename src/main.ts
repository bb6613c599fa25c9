import 'reflect-metadata';
import type http from 'node:http';
import type { Express } from 'express';
import { createHttpServer, serverTimeouts } from './api/app';
import { exposeMetrics, metricsApp } from './api/metrics';
import { ConfigError, loadConfig } from './infrastructure/config';
import { buildContainer, TYPES } from './infrastructure/container';
import { ensureBootstrapAdmin } from './application/user/bootstrap-admin';
import type { Runtime } from './infrastructure/runtime';
import type { Services } from './infrastructure/services';
import { DataDirLockedError } from './infrastructure/data-dir-lock';
import { createLogger } from './infrastructure/logger';
import { loadTemplates, TemplateError } from './infrastructure/templates/engine';

/**
 * The composition root: configuration, container, HTTP server, graceful shutdown. SIGTERM/SIGINT stop
 * accepting connections, let in-flight requests finish (bounded by SHUTDOWN_TIMEOUT_SECONDS), then close
 * subscriptions and pools in reverse order of creation, and exit 0.
 */
const main = async (): Promise<void> => {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`identity: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  try {
    // Before any store opens: a template that does not compile stops the start, naming its file.
    loadTemplates({ overridesDir: config.templatesDir, product: config.productName });
  } catch (e) {
    if (e instanceof TemplateError) {
      process.stderr.write(`identity: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel);
  const { container, closers } = buildContainer(config, logger);

  let app: Express;
  let services: Services;
  try {
    app = await container.getAsync<Express>(TYPES.App);
    services = await container.getAsync<Services>(TYPES.Services);
    (await container.getAsync<Runtime>(TYPES.Runtime)).start();
    // BOOTSTRAP_ADMIN_EMAIL: an account that already exists gets the role now; a later registration of the
    // address gets it when it registers.
    await ensureBootstrapAdmin(services);
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      logger.fatal(e.message);
      process.stderr.write(`identity: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }

  // Timeouts, and problem answers for what Node's parser refuses: api/app.ts createHttpServer.
  const timeouts = serverTimeouts(config.requestTimeoutSeconds);
  // METRICS_PORT / METRICS_TOKEN: the login-outcome counters are for the operator's scraper only.
  exposeMetrics(services.metrics, config.metrics);
  const servers: http.Server[] = [];
  const listen = async (listener: http.RequestListener, port: number): Promise<number> => {
    const server = createHttpServer(listener, { logger, timeouts });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.host, () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  };
  if (config.metrics.port !== undefined) {
    const metricsPort = await listen(
      metricsApp(services.metrics, { logger, trustProxy: config.trustProxy, token: config.metrics.token }),
      config.metrics.port,
    );
    logger.info({ port: metricsPort, token: config.metrics.token !== undefined }, 'metrics listening');
  }
  const port = await listen(app, config.port);
  logger.info(
    { port, event_store: config.eventStore, data_dir: config.databaseUrl ? undefined : config.dataDir },
    'identity service listening',
  );

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    force.unref();
    // Stop accepting; idle keep-alive sockets close now, busy ones once their response is out. Node does
    // not close a kept-alive socket that turns idle after close(): without the sweep each would hold the
    // shutdown until its keep-alive timeout, past SHUTDOWN_TIMEOUT_SECONDS (exit 1, stores never closed).
    const sweep = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100);
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          }),
      ),
    );
    clearInterval(sweep);
    for (const closer of [...closers].reverse()) {
      try {
        await closer.close();
      } catch (e) {
        logger.warn({ part: closer.name, err: (e as Error).message }, 'close failed');
      }
    }
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
};

main().catch((e: unknown) => {
  process.stderr.write(`identity: failed to start: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});

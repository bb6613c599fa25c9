import type { Express } from 'express';
import type { Logger } from '../application/ports';
import { createApp } from './app';
import type { HttpMetrics } from './deps';
import { metricsRoutes } from './routes/metrics';

export { exposeMetrics, metricsRoutes, type MetricsAccess } from './routes/metrics';

/** The app of the METRICS_PORT listener: `/metrics` (behind METRICS_TOKEN when set) and nothing else. */
export const metricsApp = (
  metrics: HttpMetrics,
  options: { logger: Logger; trustProxy: boolean | number | string; token: string | undefined },
): Express =>
  createApp({
    logger: options.logger,
    trustProxy: options.trustProxy,
    tables: [metricsRoutes(metrics, { served: true, token: options.token })],
  });

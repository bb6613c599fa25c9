import type { Express } from 'express';
import type { Logger } from '../infrastructure/logger';
import type { Metrics } from '../infrastructure/metrics';
import { createApp } from './app';
import { metricsRoutes } from './routes/metrics';

export { exposeMetrics, metricsRoutes, type MetricsAccess } from './routes/metrics';

/** The app of the METRICS_PORT listener: `/metrics` (behind METRICS_TOKEN when set) and nothing else. */
export const metricsApp = (
  metrics: Metrics,
  options: { logger: Logger; trustProxy: boolean | number | string; token: string | undefined },
): Express =>
  createApp({
    logger: options.logger,
    trustProxy: options.trustProxy,
    tables: [metricsRoutes(metrics, { served: true, token: options.token })],
  });

import type { Metrics } from '../infrastructure/metrics';
import { createRouteTable, type RouteTable } from './routes';

/** Prometheus exposition. Operators scrape it from inside their network; it carries no personal data. */
export const metricsRoutes = (metrics: Metrics): RouteTable => {
  const table = createRouteTable();
  table.add('get', '/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await metrics.registry.metrics());
  });
  return table;
};

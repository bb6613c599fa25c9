import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { HttpMetrics } from '../deps';
import { Text } from '../openapi/schemas';
import { problem } from '../problem';
import { mountRoutes } from './mount';
import { text, type RouteDef } from './route';
import type { RouteTable } from './table';

/** Who may scrape a server's `/metrics`: the counts of login outcomes are not for everyone to read. */
export type MetricsAccess = {
  /** false: this server does not serve the metrics (METRICS_PORT does): 404, as for any unknown path. */
  served: boolean;
  /** When set, a scrape must send `Authorization: Bearer <token>` (METRICS_TOKEN). */
  token: string | undefined;
};

export type MetricsDeps = { metrics: HttpMetrics; access?: MetricsAccess };

const OPEN: MetricsAccess = { served: true, token: undefined };

/** The main app's access, set by `exposeMetrics` at start-up; an app nobody restricted stays open. */
const mainAccess = new WeakMap<HttpMetrics, MetricsAccess>();

/**
 * Restricts the main app's `/metrics` as configured (src/main.ts): with METRICS_PORT the main port answers
 * 404 and `metricsApp` serves them on their own listener; with METRICS_TOKEN every scrape needs the token.
 */
export const exposeMetrics = (
  metrics: HttpMetrics,
  config: { port: number | undefined; token: string | undefined },
): void => {
  mainAccess.set(metrics, { served: config.port === undefined, token: config.token });
};

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * The bearer token against the configured one in constant time: both are hashed first, so the comparison
 * takes as long whatever the presented token's length and content (timingSafeEqual needs equal lengths).
 */
const presents = (req: Request, token: string): boolean => {
  const match = /^Bearer +([^\s]+) *$/i.exec(req.get('authorization') ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
};

/** Prometheus exposition. It carries no personal data; who may read it is `MetricsAccess`. */
export const METRICS_ROUTES: RouteDef<MetricsDeps>[] = [
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'Operations',
    responses: { 200: text('text/plain', 'Prometheus text exposition format', Text) },
    handler:
      ({ metrics, access }) =>
      async (req, res) => {
        const { served, token } = access ?? mainAccess.get(metrics) ?? OPEN;
        res.setHeader('Cache-Control', 'no-store');
        if (!served) throw problem('not-found', 'No such resource');
        if (token !== undefined && !presents(req, token)) {
          // RFC 6750 §3.1: no error code when the request carried no credentials at all.
          const challenge = req.get('authorization')
            ? 'Bearer realm="metrics", error="invalid_token"'
            : 'Bearer realm="metrics"';
          throw problem('invalid-token', 'The metrics need the metrics bearer token', {
            headers: { 'WWW-Authenticate': challenge },
          });
        }
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.send(await metrics.registry.metrics());
      },
  },
];

export const metricsRoutes = (metrics: HttpMetrics, access?: MetricsAccess): RouteTable =>
  mountRoutes(METRICS_ROUTES, { metrics, access }, {});

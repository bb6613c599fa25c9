import { ACCOUNT_ROUTES } from './accounts';
import { ADMIN_ROUTES } from './admin';
import { ADMIN_QUERY_ROUTES } from './admin-queries';
import { AUTH_ROUTES } from './auth';
import { DISCOVERY_ROUTES } from './discovery';
import { DOCS_ROUTES } from './docs';
import { EVENT_ROUTES } from './events';
import { HEALTH_ROUTES } from './health';
import { METRICS_ROUTES } from './metrics';
import type { RouteSpec } from './route';
import { SESSION_ROUTES } from './sessions';
import { USER_ROUTES } from './users';
import { SELF_SERVICE_ROUTES } from './self-service';

/**
 * Every route of the service, each defined once in routes/<area>.ts, in the order of the OpenAPI document
 * (openapi/ builds it from this list). What the definitions do not reach stays out of the document:
 * test/api/openapi.test.ts walks the app's router for routes mounted any other way.
 */
export const ROUTES: readonly RouteSpec[] = [
  ...HEALTH_ROUTES,
  ...METRICS_ROUTES,
  ...DISCOVERY_ROUTES,
  ...ACCOUNT_ROUTES,
  ...AUTH_ROUTES,
  ...SESSION_ROUTES,
  ...USER_ROUTES,
  ...SELF_SERVICE_ROUTES,
  ...ADMIN_QUERY_ROUTES,
  ...ADMIN_ROUTES,
  ...EVENT_ROUTES,
  ...DOCS_ROUTES,
];

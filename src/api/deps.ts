import type { EventStore } from '../application/event-store';
import type { AdminDirectory, Logger } from '../application/ports';
import type { RateLimiter } from '../application/rate-limits';
import type { LoginTally } from '../application/session/login';
import type { SessionDeps } from '../application/session/deps';
import type { SqlClient } from '../application/sql';
import type { AccountDeps } from '../application/user/deps';
import type { Templates } from '../application/templates';
import type { CorsSettings } from './cors';
import type { SubscriptionStatus } from '../projections/runtime/runner';
import type { ProjectionRunners } from '../projections/runtime/wait';

/** The per-IP token buckets of the routes (CONTRACT.md "General rules"), requests per minute. */
export type RateLimitSettings = {
  enabled: boolean;
  loginPerMinute: number;
  registerPerMinute: number;
  refreshPerMinute: number;
  emailPerMinute: number;
};

/** What the HTTP layer itself is configured with; the composition root fills it from the configuration. */
export type HttpSettings = {
  /** express's `trust proxy`: how the client IP is found (CONTRACT.md "General rules"). */
  trustProxy: boolean | number | string;
  publicUrl: string;
  issuer: string;
  rateLimits: RateLimitSettings;
  /** How far behind a projection may be before readiness fails. */
  projectionLagThresholdSeconds: number;
  /** APP_URL: where the hosted pages' "continue" link goes; none when unset. */
  appUrl: string | undefined;
  /** CORS_ALLOWED_ORIGINS and the preflight cache time (cors.ts). */
  cors: CorsSettings;
};

/** What the routes count; the Prometheus adapter implements it. */
export interface HttpMetrics {
  login(outcome: LoginTally): void;
  httpDuration: { observe(labels: { method: string; route: string; status: string }, seconds: number): void };
  registry: { contentType: string; metrics(): Promise<string> };
  /** Connects the readiness gauges to the checks `/health/ready` runs (read at every scrape). */
  observeReadiness(read: () => Promise<{ ok: boolean; checks: { name: string; ok: boolean }[] }>): void;
}

/** The background runners, as the routes see them: read-your-writes waits and readiness. */
export type RunnerView = ProjectionRunners & { statuses(): SubscriptionStatus[] };

/**
 * Everything the routes need, declared here and built by the composition root
 * (src/infrastructure/container.ts): the application's ports and settings, the SQL client the read-model
 * queries run on, and the HTTP layer's own settings, logger and metrics.
 */
export type ApiDeps = AccountDeps &
  SessionDeps & {
    store: EventStore;
    sql: SqlClient;
    admins: AdminDirectory;
    rateLimiter: RateLimiter;
    /** HMAC key of the Idempotency-Key table: keys are stored hashed. */
    idempotencyKey: Buffer;
    logger: Logger;
    metrics: HttpMetrics;
    http: HttpSettings;
    runtime: RunnerView;
    /** More `/health/ready` members (the relay's targets); `degraded` there is reported, still ready. */
    readiness?: {
      name: string;
      check: () => Promise<{ ok: boolean; degraded?: boolean; detail?: string }>;
    }[];
    /** The emails' and hosted pages' templates (src/pages/). */
    templates: Templates;
  };

import path from 'node:path';
import { z } from 'zod';
import type { RelayConfig } from '../consumers/relay/config';
import { readRelayConfig } from './relay/config-file';

/**
 * Configuration: environment variables, parsed and validated once at start-up. A wrong value stops the
 * process with a message naming the variable. Every variable is documented in the README with its default.
 */

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .optional()
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .pipe(z.number().int().min(min).max(max));

const url = (protocols: string[]) =>
  z
    .string()
    .url()
    .refine((v) => protocols.includes(new URL(v).protocol), `must be a ${protocols.join(' or ')} URL`);

const schema = z.object({
  PORT: int(3000, 0, 65535),
  HOST: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  EVENT_STORE: z.enum(['embedded', 'postgres', 'esdb']).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  EVENTSTORE_CONNECTION_STRING: z
    .string()
    .regex(/^esdb(\+discover)?:\/\//, 'must be an esdb:// or esdb+discover:// connection string')
    .optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  MAIL_FROM: z.string().min(3).default('Identity <no-reply@identity.local>'),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  EMAIL_LINK_BASE_URL: url(['http:', 'https:']).optional(),
  APP_URL: url(['http:', 'https:']).optional(),
  PRODUCT_NAME: z.string().min(1).max(80).default('Identity'),
  TEMPLATES_DIR: z.string().min(1).optional(),
  CORS_ALLOWED_ORIGINS: z.string().optional(),
  CORS_MAX_AGE_SECONDS: int(600, 0, 86400),
  BOOTSTRAP_ADMIN_EMAIL: z.string().min(3).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  TRUST_PROXY: z
    .string()
    .regex(/^(\d+|false|true|loopback|[\w.:/, -]+)$/, 'must be a hop count, loopback, or addresses')
    .optional(),
  REQUIRE_VERIFIED_EMAIL: bool(true),
  REGISTRATION_REVEALS_EXISTING: bool(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MASTER_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).default('identity'),
  ACCESS_TOKEN_TTL_SECONDS: int(900, 60, 900),
  REFRESH_REUSE_GRACE_SECONDS: int(10, 0, 120),
  SESSION_IDLE_TIMEOUT_SECONDS: int(14 * 24 * 3600, 300, 365 * 24 * 3600),
  SESSION_ABSOLUTE_TIMEOUT_SECONDS: int(30 * 24 * 3600, 300, 365 * 24 * 3600),
  PASSWORD_MIN_LENGTH: int(12, 8, 128),
  ARGON2_MEMORY_KIB: int(19456, 19456, 4 * 1024 * 1024),
  ARGON2_TIME_COST: int(2, 2, 100),
  ARGON2_PARALLELISM: int(1, 1, 64),
  VERIFICATION_TOKEN_TTL_SECONDS: int(24 * 3600, 300, 30 * 24 * 3600),
  RESET_TOKEN_TTL_SECONDS: int(30 * 60, 60, 24 * 3600),
  INVITATION_TTL_SECONDS: int(7 * 24 * 3600, 3600, 90 * 24 * 3600),
  RATE_LIMITS_ENABLED: bool(true),
  RATE_LIMIT_LOGIN_PER_MINUTE: int(60, 1, 1_000_000),
  RATE_LIMIT_REGISTER_PER_MINUTE: int(60, 1, 1_000_000),
  RATE_LIMIT_REFRESH_PER_MINUTE: int(300, 1, 1_000_000),
  RATE_LIMIT_EMAIL_PER_MINUTE: int(30, 1, 1_000_000),
  PROJECTION_LAG_THRESHOLD_SECONDS: int(30, 1, 3600),
  SHUTDOWN_TIMEOUT_SECONDS: int(20, 1, 600),
  REQUEST_TIMEOUT_SECONDS: int(30, 1, 300),
  METRICS_PORT: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(65535))
    .optional(),
  // Sent as `Authorization: Bearer <token>`, so it must be a b64token (RFC 6750 §2.1); long enough that
  // guessing it is not a way in.
  METRICS_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)')
    .max(512)
    .regex(/^[A-Za-z0-9\-._~+/]+=*$/, 'must be letters, digits and -._~+/ (a bearer token)')
    .optional(),
  // OpenTelemetry (the SDK's own variable names): tracing is off unless the endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http:', 'https:']).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(200).default('identity'),
  /** A JSON or YAML file listing the relay's targets (CONTRACT "Event relay"). */
  RELAY_CONFIG: z.string().min(1).optional(),
});

export type Config = {
  port: number;
  host: string | undefined;
  dataDir: string;
  eventStore: 'embedded' | 'postgres' | 'esdb';
  databaseUrl: string | undefined;
  eventStoreConnectionString: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  publicUrl: string;
  /** EMAIL_LINK_BASE_URL: the base of mailed links; PUBLIC_URL unless the operator's app takes them. */
  emailLinkBaseUrl: string;
  /** APP_URL: where the hosted pages' "continue" link goes; none when unset. */
  appUrl: string | undefined;
  /** PRODUCT_NAME and TEMPLATES_DIR (application/templates.ts). */
  productName: string;
  templatesDir: string | undefined;
  /** CORS_ALLOWED_ORIGINS (exact origins) and how long a preflight may be cached. */
  cors: { allowedOrigins: string[]; maxAgeSeconds: number };
  bootstrapAdminEmail: string | undefined;
  redisUrl: string | undefined;
  trustProxy: boolean | number | string;
  requireVerifiedEmail: boolean;
  registrationRevealsExisting: boolean;
  logLevel: string;
  masterKey: Buffer | undefined;
  jwt: { issuer: string; audience: string; accessTokenTtlSeconds: number };
  sessions: { reuseGraceSeconds: number; idleTimeoutSeconds: number; absoluteTimeoutSeconds: number };
  passwords: { minLength: number; argon2: { memoryCost: number; timeCost: number; parallelism: number } };
  tokens: { verificationTtlSeconds: number; resetTtlSeconds: number; invitationTtlSeconds: number };
  rateLimits: {
    enabled: boolean;
    loginPerMinute: number;
    registerPerMinute: number;
    refreshPerMinute: number;
    emailPerMinute: number;
  };
  projectionLagThresholdSeconds: number;
  shutdownTimeoutSeconds: number;
  /** Whole-request receive timeout of the HTTP server (api/app.ts serverTimeouts). */
  requestTimeoutSeconds: number;
  /**
   * Who may scrape `/metrics` (it counts login outcomes): with `port`, only a second listener on that port
   * serves it (the main port answers 404); with `token`, only `Authorization: Bearer <token>`. Both may be set.
   */
  metrics: { port: number | undefined; token: string | undefined };
  /** OTLP/HTTP traces to `endpoint` (its `/v1/traces`); undefined: no tracing at all. */
  tracing: { endpoint: string | undefined; serviceName: string };
  /** RELAY_CONFIG's targets (none without it): src/consumers/relay/config.ts. */
  relay: RelayConfig;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const parseTrustProxy = (value: string | undefined): boolean | number | string => {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
};

/**
 * CORS_ALLOWED_ORIGINS: exact origins (`scheme://host[:port]`), comma-separated. No wildcard and no path:
 * a credentialed CORS answer must name the one origin it allows (Fetch standard, CORS protocol).
 */
const parseOrigins = (value: string | undefined, problems: string[]): string[] => {
  const origins: string[] = [];
  for (const raw of (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = null;
    }
    const ok =
      parsed !== null &&
      !raw.includes('*') &&
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      parsed.origin === raw.replace(/\/$/, '');
    if (!ok || parsed === null) {
      problems.push(
        `CORS_ALLOWED_ORIGINS: ${JSON.stringify(raw)} is not an exact origin like https://app.example.com`,
      );
      continue;
    }
    origins.push(parsed.origin);
  }
  return origins;
};

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): Config => {
  // Empty strings count as unset, as docker-compose and shells often export them that way.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  const c = parsed.data;
  const eventStore =
    c.EVENT_STORE ?? (c.EVENTSTORE_CONNECTION_STRING ? 'esdb' : c.DATABASE_URL ? 'postgres' : 'embedded');
  const problems: string[] = [];
  if (eventStore === 'postgres' && !c.DATABASE_URL)
    problems.push('DATABASE_URL: required when EVENT_STORE=postgres');
  if (eventStore === 'esdb' && !c.EVENTSTORE_CONNECTION_STRING)
    problems.push('EVENTSTORE_CONNECTION_STRING: required when EVENT_STORE=esdb');
  if (c.SESSION_IDLE_TIMEOUT_SECONDS > c.SESSION_ABSOLUTE_TIMEOUT_SECONDS)
    problems.push('SESSION_IDLE_TIMEOUT_SECONDS: must not exceed SESSION_ABSOLUTE_TIMEOUT_SECONDS');
  if (c.METRICS_PORT !== undefined && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT)
    problems.push('METRICS_PORT: must differ from PORT');
  let relay: RelayConfig = { targets: [] };
  if (c.RELAY_CONFIG) {
    try {
      relay = readRelayConfig(c.RELAY_CONFIG);
    } catch (e) {
      problems.push(`RELAY_CONFIG: ${(e as Error).message}`);
    }
  }
  const corsOrigins = parseOrigins(c.CORS_ALLOWED_ORIGINS, problems);
  if (problems.length) throw new ConfigError(problems);
  const port = c.PORT;
  const publicUrl = (c.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    port,
    host: c.HOST,
    dataDir: path.resolve(c.DATA_DIR),
    eventStore,
    databaseUrl: c.DATABASE_URL,
    eventStoreConnectionString: c.EVENTSTORE_CONNECTION_STRING,
    smtpUrl: c.SMTP_URL,
    mailFrom: c.MAIL_FROM,
    publicUrl,
    emailLinkBaseUrl: (c.EMAIL_LINK_BASE_URL ?? publicUrl).replace(/\/+$/, ''),
    appUrl: c.APP_URL,
    productName: c.PRODUCT_NAME.trim() || 'Identity',
    templatesDir: c.TEMPLATES_DIR ? path.resolve(c.TEMPLATES_DIR) : undefined,
    cors: { allowedOrigins: corsOrigins, maxAgeSeconds: c.CORS_MAX_AGE_SECONDS },
    bootstrapAdminEmail: c.BOOTSTRAP_ADMIN_EMAIL,
    redisUrl: c.REDIS_URL,
    trustProxy: parseTrustProxy(c.TRUST_PROXY),
    requireVerifiedEmail: c.REQUIRE_VERIFIED_EMAIL,
    registrationRevealsExisting: c.REGISTRATION_REVEALS_EXISTING,
    logLevel: c.LOG_LEVEL,
    masterKey: c.MASTER_KEY ? Buffer.from(c.MASTER_KEY, 'base64') : undefined,
    jwt: {
      issuer: c.JWT_ISSUER ?? publicUrl,
      audience: c.JWT_AUDIENCE,
      accessTokenTtlSeconds: c.ACCESS_TOKEN_TTL_SECONDS,
    },
    sessions: {
      reuseGraceSeconds: c.REFRESH_REUSE_GRACE_SECONDS,
      idleTimeoutSeconds: c.SESSION_IDLE_TIMEOUT_SECONDS,
      absoluteTimeoutSeconds: c.SESSION_ABSOLUTE_TIMEOUT_SECONDS,
    },
    passwords: {
      minLength: c.PASSWORD_MIN_LENGTH,
      argon2: {
        memoryCost: c.ARGON2_MEMORY_KIB,
        timeCost: c.ARGON2_TIME_COST,
        parallelism: c.ARGON2_PARALLELISM,
      },
    },
    tokens: {
      verificationTtlSeconds: c.VERIFICATION_TOKEN_TTL_SECONDS,
      resetTtlSeconds: c.RESET_TOKEN_TTL_SECONDS,
      invitationTtlSeconds: c.INVITATION_TTL_SECONDS,
    },
    rateLimits: {
      enabled: c.RATE_LIMITS_ENABLED,
      loginPerMinute: c.RATE_LIMIT_LOGIN_PER_MINUTE,
      registerPerMinute: c.RATE_LIMIT_REGISTER_PER_MINUTE,
      refreshPerMinute: c.RATE_LIMIT_REFRESH_PER_MINUTE,
      emailPerMinute: c.RATE_LIMIT_EMAIL_PER_MINUTE,
    },
    projectionLagThresholdSeconds: c.PROJECTION_LAG_THRESHOLD_SECONDS,
    shutdownTimeoutSeconds: c.SHUTDOWN_TIMEOUT_SECONDS,
    requestTimeoutSeconds: c.REQUEST_TIMEOUT_SECONDS,
    metrics: { port: c.METRICS_PORT, token: c.METRICS_TOKEN },
    tracing: { endpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: c.OTEL_SERVICE_NAME },
    relay,
  };
};

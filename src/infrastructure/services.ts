import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { EventStore } from '../application/event-store';
import type { Mailer } from '../application/mail/ports';
import type {
  AccessTokens,
  Clock,
  EmailKeys,
  Ids,
  OneTimeTokens,
  PasswordHasher,
  PasswordPolicy,
  PersonalDataVault,
  AdminDirectory,
  RefreshTokens,
} from '../application/ports';
import type { SqlClient } from '../application/sql';
import type { RateLimiter } from '../application/rate-limits';
import type { Templates } from '../application/templates';
import { loadTemplates } from './templates/engine';
import type { SessionSettings } from '../application/session/deps';
import { MemoryRateLimiter, RedisRateLimiter } from './rate-limiters';
import type { Config } from './config';
import { EsAccessTokens, SqlSigningKeyStore } from './crypto/jwt';
import { deriveKeys, HmacEmailKeys, loadMasterKey, type KeyRing } from './crypto/keys';
import { HmacOneTimeTokens } from './crypto/one-time-tokens';
import { Argon2PasswordHasher } from './crypto/password-hasher';
import { passwordPolicy } from './crypto/password-policy';
import { sqlAdminDirectory } from './admin-directory';
import { SqlPersonalDataVault } from './crypto/pii-vault';
import { HmacRefreshTokens } from './crypto/refresh-tokens';
import type { Logger } from './logger';
import { createMetrics, instrumentEventStore, type Metrics } from './metrics';
import { FileMailer } from './mail/file-mailer';
import { SmtpMailer } from './mail/smtp-mailer';
import type { RelayChannel } from '../consumers/relay/relay-consumer';
import { createRelayChannels } from './relay';

/**
 * Everything the application and the API need, built from configuration and the two stores. The container
 * binds the result; tests call it directly with a test configuration. Nothing here is a singleton of the
 * module: two service graphs can live in one process (tests run several).
 */
export type Services = {
  config: Config;
  /** The session lifetimes and refresh grace window, in the units the session commands use. */
  sessions: SessionSettings;
  logger: Logger;
  sql: SqlClient;
  store: EventStore;
  clock: Clock;
  ids: Ids;
  keys: KeyRing;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  vault: PersonalDataVault;
  admins: AdminDirectory;
  oneTimeTokens: OneTimeTokens;
  refreshTokens: RefreshTokens;
  emailKeys: EmailKeys;
  accessTokens: AccessTokens & { rotate(): Promise<unknown> };
  mailer: Mailer;
  /** Every email and hosted page, compiled at start (TEMPLATES_DIR, PRODUCT_NAME). */
  templates: Templates;
  rateLimiter: RateLimiter;
  metrics: Metrics;
  /** The relay's targets (RELAY_CONFIG), each with its transport and counters; runners in subscriptions.ts. */
  relay: RelayChannel[];
  /** Runs in reverse order on shutdown. */
  closers: { name: string; close: () => Promise<void> | void }[];
};

/** The configuration's session settings, in the milliseconds the session commands compute with. */
export const sessionSettings = (config: Config): SessionSettings => ({
  requireVerifiedEmail: config.requireVerifiedEmail,
  idleMs: config.sessions.idleTimeoutSeconds * 1000,
  absoluteMs: config.sessions.absoluteTimeoutSeconds * 1000,
  graceMs: config.sessions.reuseGraceSeconds * 1000,
});

export const systemClock: Clock = { now: () => new Date() };
export const randomIds: Ids = { uuid: () => randomUUID() };

export const createServices = async (deps: {
  config: Config;
  logger: Logger;
  sql: SqlClient;
  store: EventStore;
  clock?: Clock;
  ids?: Ids;
  mailer?: Mailer;
}): Promise<Services> => {
  const { config, logger, sql } = deps;
  // First, before any store is touched: a broken template stops the start naming its file.
  const templates = loadTemplates({ overridesDir: config.templatesDir, product: config.productName });
  const metrics = createMetrics();
  // Every append is timed and counted (lockouts, reuse detections) on its way to the store.
  const store = instrumentEventStore(deps.store, metrics);
  const clock = deps.clock ?? systemClock;
  const closers: Services['closers'] = [];
  const master = await loadMasterKey({ masterKey: config.masterKey, dataDir: config.dataDir });
  if (master.source === 'generated' && config.eventStore !== 'embedded') {
    logger.warn(
      { file: master.file },
      'generated a master key in the data directory; set MASTER_KEY so every instance shares it',
    );
  }
  const keys = deriveKeys(master.key);
  const accessTokens = await EsAccessTokens.open({
    store: new SqlSigningKeyStore(sql),
    wrappingKey: keys.signingKeyWrap,
    clock,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlSeconds: config.jwt.accessTokenTtlSeconds,
  });
  closers.push({ name: 'access-tokens', close: () => accessTokens.close() });

  const transport =
    deps.mailer ??
    (config.smtpUrl
      ? new SmtpMailer({ url: config.smtpUrl, from: config.mailFrom, logger })
      : new FileMailer({ dataDir: config.dataDir, from: config.mailFrom, logger }));
  // Every delivery attempt is counted by kind and result, whichever transport carries it.
  const mailer: Mailer = {
    send: async (message) => {
      try {
        await transport.send(message);
        metrics.mail(message.kind, 'sent');
      } catch (e) {
        metrics.mail(message.kind, 'failed');
        throw e;
      }
    },
  };

  let rateLimiter: RateLimiter;
  if (config.redisUrl) {
    const redis = new Redis(config.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
    });
    redis.on('error', () => undefined); // the limiter logs outages itself, at most once a minute
    rateLimiter = new RedisRateLimiter(redis, { logger });
    closers.push({
      name: 'redis',
      close: async () => void (await redis.quit().catch(() => redis.disconnect())),
    });
  } else {
    rateLimiter = new MemoryRateLimiter();
  }

  const relay = createRelayChannels(config.relay);
  closers.push({
    name: 'relay',
    close: async () => void (await Promise.all(relay.map((c) => c.transport.close().catch(() => undefined)))),
  });

  return {
    relay,
    config,
    sessions: sessionSettings(config),
    logger,
    sql,
    store,
    clock,
    ids: deps.ids ?? randomIds,
    keys,
    hasher: await Argon2PasswordHasher.create(config.passwords.argon2),
    policy: passwordPolicy({ minLength: config.passwords.minLength }),
    vault: new SqlPersonalDataVault(sql, keys.piiWrap),
    admins: sqlAdminDirectory(sql),
    oneTimeTokens: new HmacOneTimeTokens(keys.oneTimeTokens),
    refreshTokens: new HmacRefreshTokens(keys.refreshTokens),
    emailKeys: new HmacEmailKeys(keys.emailReservation),
    accessTokens,
    mailer,
    templates,
    rateLimiter,
    metrics,
    closers,
  };
};

import {
  SubscriptionRunner,
  type SubscriptionHandler,
  type SubscriptionStatus,
} from '../application/subscriptions/runner';
import { OutboxSender } from '../consumers/mail/outbox-sender';
import { PgliteSqlClient } from './sql/pglite-client';
import { upgradeProjections } from './projections';
import type { Services } from './services';

/**
 * The background side of the service: one checkpointed runner per projection and side-effect consumer.
 * The list of handlers lives in `subscriptionHandlers` (src/infrastructure/subscriptions.ts).
 */
export type Runtime = {
  runners: SubscriptionRunner[];
  runner: (name: string) => SubscriptionRunner | undefined;
  statuses: () => SubscriptionStatus[];
  start: () => void;
  stop: () => Promise<void>;
  /** Delivers the mail outbox; runs on every instance (rows are leased, never sent twice at once). */
  outbox: OutboxSender;
};

export const createRuntime = (services: Services, handlers: SubscriptionHandler[]): Runtime => {
  const runners = handlers.map(
    (h) => new SubscriptionRunner(h, { store: services.store, sql: services.sql, logger: services.logger }),
  );
  const outbox = new OutboxSender(
    { ...services, publicUrl: services.config.publicUrl },
    // The embedded store admits one process (data-dir-lock.ts): no other sender can hold a lease.
    { soleSender: services.sql instanceof PgliteSqlClient },
  );
  services.metrics.observeSubscriptions(
    () => runners.map((r) => r.status()),
    async () =>
      (await services.store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.createdAt ?? null,
  );
  const upgrades = new AbortController();
  let upgrading: Promise<unknown> = Promise.resolve();
  return {
    outbox,
    runners,
    runner: (name) => runners.find((r) => r.name === name),
    statuses: () => runners.map((r) => r.status()),
    start: () => {
      runners.forEach((r) => r.start());
      outbox.start();
      upgrading = upgradeProjections(services, upgrades.signal).catch((e: unknown) =>
        services.logger.warn(
          { err: (e as Error).message },
          'projection upgrade failed; it is retried at the next start',
        ),
      );
    },
    stop: async () => {
      upgrades.abort();
      await Promise.all([...runners.map((r) => r.stop()), outbox.stop(), upgrading]);
    },
  };
};

import type { SubscriptionHandler } from '../application/subscription-handler';
import { readOutboxBacklog } from '../consumers/mail/outbox-backlog';
import { OutboxSender } from '../consumers/mail/outbox-sender';
import { projections } from '../projections';
import { readAllRegistry } from '../projections/runtime/registry';
import { createSubscriptionRuntime, type SubscriptionRuntime } from '../projections/runtime/runners';
import { PgliteSqlClient } from './sql/pglite-client';
import { rebuildDeps } from './projections';
import { relayStatuses } from './relay/status';
import type { Services } from './services';

/**
 * The background side of the service: one checkpointed runner per projection and side-effect consumer
 * (src/projections/runtime/), and the mail outbox's sender. The list of handlers lives in
 * `subscriptionHandlers` (src/infrastructure/subscriptions.ts).
 */
export type Runtime = SubscriptionRuntime & {
  /** Delivers the mail outbox; runs on every instance (rows are leased, never sent twice at once). */
  outbox: OutboxSender;
};

export const createRuntime = (services: Services, handlers: SubscriptionHandler[]): Runtime => {
  const subscriptions = createSubscriptionRuntime(handlers, {
    store: services.store,
    sql: services.sql,
    logger: services.logger,
    upgrade: {
      deps: rebuildDeps(services),
      projections,
      onProgress: (p) => services.metrics.rebuildApplied(p.projection, p.events),
    },
  });
  const outbox = new OutboxSender(
    { ...services, linkBaseUrl: services.config.emailLinkBaseUrl },
    // The embedded store admits one process (data-dir-lock.ts): no other sender can hold a lease.
    { soleSender: services.sql instanceof PgliteSqlClient },
  );
  services.metrics.observeSubscriptions(
    () => subscriptions.statuses(),
    async () =>
      (await services.store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.createdAt ?? null,
  );
  services.metrics.observeOutbox(() => readOutboxBacklog(services.sql));
  services.metrics.observeProjectionBuilds(async () =>
    (await readAllRegistry(services.sql)).map((e) => ({
      projection: e.name,
      version: e.version,
      building: e.building && { version: e.building.version, startedAt: e.building.startedAt },
    })),
  );
  services.metrics.observeRelay(() =>
    relayStatuses({ ...services, statuses: () => subscriptions.statuses() }),
  );
  return {
    ...subscriptions,
    outbox,
    start: () => {
      subscriptions.start();
      outbox.start();
    },
    stop: async () => {
      await Promise.all([subscriptions.stop(), outbox.stop()]);
    },
  };
};

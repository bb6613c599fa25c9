import type { RelayTargetStatus } from './relay/status';
import client from 'prom-client';
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeOptions,
} from '../application/event-store';
import type { LoginTally } from '../application/session/login';
import type { SubscriptionStatus } from '../projections/runtime/runner';
import {
  observeOperations,
  type OutboxBacklog,
  type ProjectionBuilds,
  type Readiness,
} from './metrics-operations';

/**
 * Prometheus metrics (GET /metrics). Security-relevant counts are taken where they cannot be missed: at
 * the event store, from the event types a command appended (every lockout is an AccountLocked event,
 * every reuse detection a RefreshTokenReuseDetected), so no handler has to remember to count.
 */
export type Metrics = ReturnType<typeof createMetrics>;

export const createMetrics = () => {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'identity_process_' });
  const registers = [registry];

  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const logins = new client.Counter({
    name: 'identity_logins_total',
    help: 'Login attempts by outcome',
    labelNames: ['outcome'] as const,
    registers,
  });
  const appendedEvents = new client.Counter({
    name: 'identity_events_appended_total',
    help: 'Events appended, by type',
    labelNames: ['type'] as const,
    registers,
  });
  const lockouts = new client.Counter({
    name: 'identity_lockouts_total',
    help: 'Accounts locked',
    registers,
  });
  const reuse = new client.Counter({
    name: 'identity_refresh_token_reuse_detected_total',
    help: 'Refresh-token reuse detections (each revoked a session)',
    registers,
  });
  const emails = new client.Counter({
    name: 'identity_emails_total',
    help: 'Emails by kind and result',
    labelNames: ['kind', 'result'] as const,
    registers,
  });
  const appendDuration = new client.Histogram({
    name: 'identity_event_append_duration_seconds',
    help: 'Event store append latency',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });

  let statuses: () => SubscriptionStatus[] = () => [];
  let headTime: () => Promise<Date | null> = async () => null;
  new client.Gauge({
    name: 'identity_subscription_lag_seconds',
    help: 'Age of the newest event a subscription has not processed yet (0 when caught up)',
    labelNames: ['subscription'] as const,
    registers,
    async collect() {
      this.reset();
      const head = await headTime().catch(() => null);
      for (const s of statuses()) this.set({ subscription: s.name }, subscriptionLagSeconds(s, head));
    },
  });
  new client.Gauge({
    name: 'identity_subscription_failures',
    help: 'Failed batches of a subscription since start (retried from its checkpoint)',
    labelNames: ['subscription'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of statuses()) this.set({ subscription: s.name }, s.failures);
    },
  });

  const operations = observeOperations(registers);
  let relay: () => Promise<RelayTargetStatus[]> = async () => [];
  // One read per scrape for all three relay families (they are collected one after the other).
  let relayScrape: { at: number; value: Promise<RelayTargetStatus[]> } | null = null;
  const relayNow = (): Promise<RelayTargetStatus[]> => {
    if (!relayScrape || Date.now() - relayScrape.at > 250) {
      relayScrape = { at: Date.now(), value: relay().catch(() => []) };
    }
    return relayScrape.value;
  };
  new client.Gauge({
    name: 'identity_relay_lag_seconds',
    help: 'Age of the oldest event a relay target has not confirmed yet (0 when it has them all)',
    labelNames: ['target'] as const,
    registers,
    async collect() {
      this.reset();
      for (const t of await relayNow()) this.set({ target: t.name }, t.lagSeconds);
    },
  });
  new client.Counter({
    name: 'identity_relay_deliveries_total',
    help: 'Relay deliveries by this instance: confirmed by the target, failed (retried), parked (webhooks)',
    labelNames: ['target', 'result'] as const,
    registers,
    async collect() {
      this.reset();
      for (const t of await relayNow()) {
        this.inc({ target: t.name, result: 'confirmed' }, t.confirmed);
        this.inc({ target: t.name, result: 'failed' }, t.failed);
      }
    },
  });
  new client.Gauge({
    name: 'identity_relay_parked',
    help: 'Parked deliveries of a relay target awaiting `identity relay replay`',
    labelNames: ['target'] as const,
    registers,
    async collect() {
      this.reset();
      for (const t of await relayNow()) this.set({ target: t.name }, t.parked);
    },
  });
  new client.Gauge({
    name: 'identity_relay_owner',
    help: '1 when this instance relays the target now (one instance at a time does)',
    labelNames: ['target'] as const,
    registers,
    async collect() {
      this.reset();
      for (const t of await relayNow()) this.set({ target: t.name }, t.owner ? 1 : 0);
    },
  });

  return {
    registry,
    httpDuration,
    logins,
    lockouts,
    reuse,
    emails,
    appendDuration,
    appendedEvents,
    login: (outcome: LoginTally) => logins.inc({ outcome }),
    mail: (kind: string, result: 'sent' | 'failed') => emails.inc({ kind, result }),
    /** Connects the subscription gauges to the runtime once it exists. */
    observeSubscriptions: (get: () => SubscriptionStatus[], head: () => Promise<Date | null>) => {
      statuses = get;
      headTime = head;
    },
    /** Connects the mail outbox gauges (backlog and oldest age), read at every scrape. */
    observeOutbox: (read: () => Promise<OutboxBacklog>) => operations.outbox(read),
    /** Connects the rebuild gauges to the projection registry (rebuilds by any process, the CLI's too). */
    observeProjectionBuilds: (read: () => Promise<ProjectionBuilds>) => operations.builds(read),
    /** Connects the readiness gauges to the checks `/health/ready` runs. */
    observeReadiness: (read: () => Promise<Readiness>) => operations.readiness(read),
    /** Events a rebuild in this process has applied so far (fed by its progress callback). */
    rebuildApplied: (projection: string, events: number) => operations.rebuildApplied(projection, events),
    /** Connects the relay families to the targets' status (relay/status.ts). */
    observeRelay: (get: () => Promise<RelayTargetStatus[]>) => {
      relay = get;
    },
  };
};

/**
 * Lag in seconds: 0 when the subscription is caught up; otherwise how far the newest event in the store is
 * ahead of the last one it processed (or, never having processed one, how old the head is).
 */
export const subscriptionLagSeconds = (s: SubscriptionStatus, head: Date | null): number => {
  if (s.caughtUp || head === null) return 0;
  const processed = s.lastEventAt?.getTime() ?? 0;
  if (processed === 0) return Math.max(0, (Date.now() - head.getTime()) / 1000);
  return Math.max(0, (head.getTime() - processed) / 1000);
};

/** The event store with every append timed and its event types counted. */
export const instrumentEventStore = (store: EventStore, metrics: Metrics): EventStore => ({
  async appendToStream(
    streamId: string,
    events: NewEvent[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult> {
    const end = metrics.appendDuration.startTimer();
    try {
      const result = await store.appendToStream(streamId, events, options);
      end({ result: 'ok' });
      for (const e of events) {
        metrics.appendedEvents.inc({ type: e.type });
        if (e.type === 'AccountLocked') metrics.lockouts.inc();
        if (e.type === 'RefreshTokenReuseDetected') metrics.reuse.inc();
      }
      return result;
    } catch (e) {
      end({ result: 'error' });
      throw e;
    }
  },
  readStream: (streamId: string, options?: ReadStreamOptions) => store.readStream(streamId, options),
  readAll: (options?: ReadAllOptions) => store.readAll(options),
  subscribeToAll: (options?: SubscribeOptions) => store.subscribeToAll(options),
  deleteStream: (streamId, options) => store.deleteStream(streamId, options),
  tombstoneStream: (streamId, options) => store.tombstoneStream(streamId, options),
  ping: () => store.ping(),
  close: () => store.close(),
});

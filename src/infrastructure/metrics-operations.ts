import client from 'prom-client';

/** The mail outbox as the scrape sees it: rows neither sent nor dropped. */
export type OutboxBacklog = {
  pending: number;
  /** Pending rows whose last attempt failed (waiting for their retry). */
  retrying: number;
  /** Seconds since the oldest pending row entered the outbox; 0 when none is pending. */
  oldestAgeSeconds: number;
};

/** Every projection in the registry, and its rebuild in progress if one is (or an interrupted one). */
export type ProjectionBuilds = {
  projection: string;
  version: number;
  building: { version: number; startedAt: Date } | null;
}[];

export type Readiness = { ok: boolean; checks: { name: string; ok: boolean }[] };

type Read<T> = () => Promise<T>;

/**
 * Gauges read at scrape time from the stores (the outbox table, the projection registry) and the readiness
 * checks, so every instance reports the same shared truth and a rebuild run by the CLI shows too. A read
 * that fails leaves its gauges empty for that scrape rather than failing the whole exposition.
 */
export const observeOperations = (registers: client.Registry[]) => {
  let outbox: Read<OutboxBacklog> | null = null;
  let builds: Read<ProjectionBuilds> | null = null;
  let readiness: Read<Readiness> | null = null;
  // prom-client runs every collect of a scrape at once: the gauges of a group share one read.
  const outboxRead = sharedRead(() => outbox);
  const buildsRead = sharedRead(() => builds);
  const readinessRead = sharedRead(() => readiness);

  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: client.Gauge<L>) => Promise<void>,
  ) =>
    new client.Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        await fill(this);
      },
    });

  gauge('identity_mail_outbox_pending', 'Mail outbox rows neither sent nor dropped', [], async (g) => {
    const b = await outboxRead();
    if (b) g.set(b.pending);
  });
  gauge('identity_mail_outbox_retrying', 'Pending mail outbox rows whose last send failed', [], async (g) => {
    const b = await outboxRead();
    if (b) g.set(b.retrying);
  });
  gauge(
    'identity_mail_outbox_oldest_age_seconds',
    'Age of the oldest pending mail outbox row (0 when none is pending)',
    [],
    async (g) => {
      const b = await outboxRead();
      if (b) g.set(b.oldestAgeSeconds);
    },
  );

  gauge(
    'identity_projection_rebuild_in_progress',
    '1 while a projection has a rebuild in progress (or an interrupted one waiting to resume)',
    ['projection'],
    async (g) => {
      for (const p of (await buildsRead()) ?? []) g.set({ projection: p.projection }, p.building ? 1 : 0);
    },
  );
  gauge(
    'identity_projection_rebuild_started_timestamp_seconds',
    'When the rebuild in progress of a projection started (absent when none is)',
    ['projection', 'version'],
    async (g) => {
      for (const p of (await buildsRead()) ?? []) {
        if (!p.building) continue;
        const labels = { projection: p.projection, version: String(p.building.version) };
        g.set(labels, p.building.startedAt.getTime() / 1000);
      }
    },
  );
  const rebuildEvents = new client.Counter({
    name: 'identity_projection_rebuild_events_total',
    help: 'Events applied by rebuilds that ran in this process, by projection',
    labelNames: ['projection'] as const,
    registers,
  });
  const rebuildSeen = new Map<string, number>();

  gauge('identity_ready', 'What /health/ready would answer at scrape time: 1 ready, 0 not', [], async (g) => {
    if (!readiness) return;
    g.set((await readinessRead())?.ok ? 1 : 0);
  });
  gauge('identity_ready_check', 'Each readiness check at scrape time: 1 up, 0 down', ['check'], async (g) => {
    for (const c of (await readinessRead())?.checks ?? []) g.set({ check: c.name }, c.ok ? 1 : 0);
  });

  return {
    outbox: (read: Read<OutboxBacklog>) => void (outbox = read),
    builds: (read: Read<ProjectionBuilds>) => void (builds = read),
    readiness: (read: Read<Readiness>) => void (readiness = read),
    /** `events` is the running total of one rebuild (RebuildProgress.events): only the increase is added
     * (a smaller total is a new rebuild). */
    rebuildApplied: (projection: string, events: number) => {
      const before = rebuildSeen.get(projection) ?? 0;
      const delta = events >= before ? events - before : events;
      rebuildSeen.set(projection, events);
      if (delta > 0) rebuildEvents.inc({ projection }, delta);
    },
  };
};

/** One read shared by every caller while it is in flight (the gauges of one scrape); null when it fails. */
const sharedRead = <T>(source: () => Read<T> | null): (() => Promise<T | null>) => {
  let inflight: Promise<T | null> | null = null;
  return () => {
    if (inflight) return inflight;
    const read = source();
    const p = read ? read().catch(() => null) : Promise.resolve(null);
    inflight = p;
    void p.finally(() => {
      if (inflight === p) inflight = null;
    });
    return p;
  };
};

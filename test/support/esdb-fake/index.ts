/**
 * A wire-level fake EventStoreDB 24.10 for tests: a real gRPC server (grpc-js) serving `Streams` and
 * `ServerFeatures` from the definitions that ship inside `@eventstore/db-client`, so the real client and the
 * real adapter talk to it over HTTP/2 exactly as they would to a server. Connect with
 * `esdb://127.0.0.1:<port>?tls=false` (a single node needs no gossip).
 *
 * It follows the server's source, kurrent-io/KurrentDB branch release/v24.10; each file names the server
 * files it models (log.ts: storage and idempotency; subscription.ts: the filtered $all enumerator;
 * service.ts and status.ts: Append, BatchAppend, Delete, Read and their errors; features.ts). A run against a
 * real server is the authority: scripts/record-esdb-exchanges.ts records the exchanges listed in
 * exchanges.ts, and test/contract/esdb-recordings.test.ts replays every recording present against this fake.
 *
 * Append paths: `appendPath: 'batch'` (the default, what client 6.2 does against 24.10: ServerFeatures lists
 * Streams.BatchAppend) or `'append'` (ServerFeatures leaves BatchAppend out and the method is not served, so
 * the client uses the client-streaming Streams.Append). `serverFeatures: false` answers UNIMPLEMENTED, as a
 * server older than 21.10 does.
 *
 * Concluded where the source alone does not settle it (each is in the list to record, exchanges.ts):
 * - Reading $all backwards from a position excludes the event at it. AllReader.ReadAllEventsBackward reads
 *   the records that END at or before the position, so the record starting there is not among them.
 * - The confirmation's "last indexed position" is taken as the position of the last record. On the server it
 *   is IndexCommitter.LastIndexedPosition, which may be that record's post-position; the only difference is
 *   whether a subscription from exactly the last event's position starts live or with an empty catch-up,
 *   and both send `caughtUp` after the same (no) events.
 * - Live entries: one per committed record, as SubscriptionsService publishes them; a multi-event append
 *   puts all its events into the 32-entry live buffer at once, so an append of more than 32 matching events
 *   (or 16 with a checkpoint after each) always makes a live subscription fall behind here. On the server
 *   the enumerator may drain the buffer between two records; falling behind is the same path either way.
 * - Record sizes: a prepare is taken as 86 bytes plus its stream name, twice its type's length, its data
 *   and metadata. Positions are therefore byte-like, not byte-exact; nothing may depend on their spacing.
 * - A server-side `end` of a subscription with status OK: the server ends a subscription call only with an
 *   error or on shutdown; the normal end is kept because a proxy or a cancelled server call can produce it.
 *
 * Known divergences from a real server:
 * - No scavenge: deleted and tombstoned streams' events stay in $all forever.
 * - No Gossip, Operations, Users, Monitoring, Projections or Persistent services; single node, no leader
 *   redirects. No authentication or ACLs (AccessDenied exists only as a fault), TLS off.
 * - No projections: with `categoryStreams: true` the fake writes, after each event of a stream `cat-...`, a
 *   `$>` link event `<revision>@<stream>` to `$ce-cat`, as the `$by_category` system projection does; links
 *   are never resolved (no stream subscriptions, no resolveLinkTos).
 * - Idempotency remembers every event id; the server remembers recent ones only (a bounded cache), so a very
 *   old re-append with `any` may be written again there.
 * - Stream metadata other than `$tb` is not interpreted ($maxAge, $maxCount, ACLs).
 * - No `first_stream_position`/`last_stream_position` read messages; no MaxAppendEventSize (int.MaxValue by
 *   default on the server too).
 * - Unfiltered $all subscriptions (the server's Enumerator.AllSubscription) share the filtered path minus
 *   checkpoints; the adapter always subscribes with a filter.
 * - The log starts with a few system events (`$`-prefixed streams and types), not a real server's exact set.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { StoreUnavailableError } from '../../../src/application/event-store';
import { serverFeaturesService } from './features';
import { Faults, type SubscriptionEnding } from './faults';
import { FakeLog, type ProposedEvent, type StoredEvent } from './log';
import { streamsService, subscriptionEndingError, type ServiceContext } from './service';
import type { RunningSubscription, SubscriptionStats } from './subscription';

export { FakeLog } from './log';
export type { AppendFault, SubscriptionEnding } from './faults';

export type FakeEventStoreDbOptions = {
  /** Start the log with a few system events, as a fresh server has. Default true. */
  seedSystemEvents?: boolean;
  /** 'batch' (default): ServerFeatures advertises BatchAppend and the client uses it; 'append': it does not. */
  appendPath?: 'batch' | 'append';
  /** The version ServerFeatures reports; below 23.10 subscriptions send no `caughtUp`. Default 24.10.0. */
  serverVersion?: string;
  /** false: no ServerFeatures service at all (UNIMPLEMENTED, a server older than 21.10). */
  serverFeatures?: boolean;
  /** Entries the live buffer of a subscription holds before it drops the oldest. Default 32. */
  liveBuffer?: number;
  /** Emulate the `$by_category` projection: `$>` link events in `$ce-<category>`. Default false. */
  categoryStreams?: boolean;
};

const systemEvent = (type: string, data: object): ProposedEvent => ({
  id: randomUUID(),
  type,
  contentType: 'application/json',
  data: new TextEncoder().encode(JSON.stringify(data)),
  metadata: new Uint8Array(),
});

const atLeast = (version: string, major: number, minor: number): boolean => {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
};

export class FakeEventStoreDb {
  readonly log = new FakeLog();
  readonly faults = new Faults();
  /** Counters of the subscriptions' work (catch-up passes, pages read, checkpoints sent). */
  readonly stats: SubscriptionStats = { catchUps: 0, pages: 0, checkpoints: 0, liveDropped: 0 };
  private readonly subscriptions = new Set<RunningSubscription>();
  private server: grpc.Server | undefined;
  private stopped = new AbortController();
  private boundPort = 0;

  private constructor(private readonly options: FakeEventStoreDbOptions) {
    if (options.seedSystemEvents ?? true) {
      this.log.appendSystem('$user-admin', systemEvent('$UserCreated', { loginName: 'admin' }));
      this.log.appendSystem('$users', systemEvent('$User', { loginName: 'admin' }));
      this.log.appendSystem('$settings', systemEvent('$update-default-acl', { $userStreamAcl: {} }));
    }
    if (options.categoryStreams) this.log.afterWrite = (written) => this.linkToCategories(written);
  }

  static async start(options: FakeEventStoreDbOptions = {}): Promise<FakeEventStoreDb> {
    const fake = new FakeEventStoreDb(options);
    await fake.listen(0);
    return fake;
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionString(): string {
    return `esdb://127.0.0.1:${this.boundPort}?tls=false`;
  }

  /** Subscriptions currently open on the server side. */
  get openSubscriptions(): number {
    return this.subscriptions.size;
  }

  /** Ends every open subscription from the server side, with an error or normally ('end'). */
  endSubscriptions(ending: SubscriptionEnding): void {
    const error = ending === 'end' ? null : subscriptionEndingError(ending);
    for (const s of [...this.subscriptions]) s.end(error);
  }

  /** Kills every connection and call at once, as a crashed server would; the log survives for `restart()`. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.forceShutdown();
    this.stopped.abort();
  }

  /** Serves the same log again on the same port. */
  async restart(): Promise<void> {
    if (this.server) return;
    this.stopped = new AbortController();
    await this.listen(this.boundPort);
  }

  private linkToCategories(written: StoredEvent[]): void {
    for (const e of written) {
      const dash = e.streamId.indexOf('-');
      if (e.streamId.startsWith('$') || e.type.startsWith('$') || dash <= 0) continue;
      this.log.appendSystem(`$ce-${e.streamId.slice(0, dash)}`, {
        id: randomUUID(),
        type: '$>',
        contentType: 'application/octet-stream',
        data: new TextEncoder().encode(`${e.revision}@${e.streamId}`),
        metadata: new TextEncoder().encode(JSON.stringify({ $o: e.streamId, $causedBy: e.id })),
      });
    }
  }

  private async listen(port: number): Promise<void> {
    const server = new grpc.Server();
    const calls = {
      track: (call: { on(event: 'cancelled', listener: () => void): unknown }): AbortController => {
        const ac = new AbortController();
        const stopped = this.stopped.signal;
        if (stopped.aborted) ac.abort();
        else stopped.addEventListener('abort', () => ac.abort(), { once: true, signal: ac.signal });
        call.on('cancelled', () => ac.abort());
        return ac;
      },
    };
    const version = this.options.serverVersion ?? '24.10.0';
    const batchAppend = (this.options.appendPath ?? 'batch') === 'batch';
    const ctx: ServiceContext = {
      log: this.log,
      calls,
      faults: this.faults,
      subscriptions: this.subscriptions,
      stats: this.stats,
      liveBuffer: this.options.liveBuffer ?? 32,
      batchAppend,
      sendCaughtUp: atLeast(version, 23, 10),
    };
    server.addService(StreamsService, streamsService(ctx));
    if (this.options.serverFeatures ?? true) {
      server.addService(ServerFeaturesService, serverFeaturesService({ version, batchAppend }));
    }
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    this.server = server;
  }
}

/**
 * Runs `attempt` until it stops failing with `StoreUnavailableError`, for a writer that meets a restarted
 * server: a client whose connection broke answers UNAVAILABLE at once (nothing sent) until it has
 * reconnected, and a service would answer 503 with Retry-After meanwhile. Any other error, or no recovery
 * within `timeoutMs`, fails.
 */
export const whenBack = async <T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof StoreUnavailableError) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
};

/**
 * A wire-level fake EventStoreDB for tests: a real gRPC server (grpc-js) serving the `Streams` service from
 * the definitions that ship inside `@eventstore/db-client`, so the real client and the real adapter talk to
 * it over HTTP/2 exactly as they would to a server. Connect with `esdb://127.0.0.1:<port>?tls=false`: a
 * single-node connection string needs no gossip, and the client asks `ServerFeatures` only before an
 * append, where UNIMPLEMENTED makes it fall back from BatchAppend to `Streams/Append`.
 *
 * It encodes what the EventStoreDB documentation says (each rule cites its page beside the code) and, where
 * the docs are silent, what the server source does. A run against a real server
 * (EVENTSTORE_CONNECTION_STRING) is the authority; where the two disagree, fix the fake.
 *
 * Known divergences from a real server:
 * - Positions: one counter serves as both commit and prepare position ((n, n)); a real server uses byte
 *   offsets into its transaction log. Like the server, an append answers the position of its FIRST event.
 * - No scavenge: deleted and tombstoned streams' events stay in $all forever.
 * - No BatchAppend, no ServerFeatures, no Gossip, no Operations/Users/Monitoring/Projections/Persistent
 *   services; single node only, so no leader redirects.
 * - No persistent subscriptions, no projections (so no `$ce-`/`$et-` streams, no `$>` links, no
 *   resolveLinkTos), no stream subscriptions (only $all subscriptions).
 * - No authentication or ACLs: every call is allowed, TLS is off.
 * - No idempotent appends: re-sending an event id is not recognised as a retry.
 * - Stream metadata other than the `$tb` written by soft deletes is not interpreted ($maxAge, $maxCount...).
 * - Subscriptions: slow subscribers are never dropped (a server drops a live one that overflows its buffer),
 *   no `fell_behind`; a live filtered subscription counts every committed event towards its checkpoint
 *   interval; catch-up pages are exactly one search window long.
 * - Reading $all backwards from a position excludes the event at it (believed to match the server).
 * - No deadlines, no max append size, no `first_stream_position`/`last_stream_position` read messages.
 * - The log starts with a few system events (`$`-prefixed streams and types), not a real server's exact set.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { StoreUnavailableError } from '../../../src/application/event-store';
import { FakeLog, type ProposedEvent } from './log';
import { streamsService } from './service';

export { FakeLog } from './log';

export type FakeEventStoreDbOptions = {
  /** Start the log with a few system events, as a fresh server has. Default true. */
  seedSystemEvents?: boolean;
};

const systemEvent = (type: string, data: object): ProposedEvent => ({
  id: randomUUID(),
  type,
  contentType: 'application/json',
  data: new TextEncoder().encode(JSON.stringify(data)),
  metadata: new Uint8Array(),
});

export class FakeEventStoreDb {
  readonly log = new FakeLog();
  private server: grpc.Server | undefined;
  private stopped = new AbortController();
  private boundPort = 0;

  private constructor(options: FakeEventStoreDbOptions) {
    if (options.seedSystemEvents ?? true) {
      const seed = (stream: string, e: ProposedEvent): void => {
        const check = this.log.checkCommit(stream, { kind: 'any' });
        if (check.decision === 'ok') this.log.append(stream, check, [e]);
      };
      seed('$user-admin', systemEvent('$UserCreated', { loginName: 'admin' }));
      seed('$users', systemEvent('$User', { loginName: 'admin' }));
      seed('$settings', systemEvent('$update-default-acl', { $userStreamAcl: {}, $systemStreamAcl: {} }));
    }
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

  private async listen(port: number): Promise<void> {
    const server = new grpc.Server();
    const tracker = {
      track: (call: { on(event: 'cancelled', listener: () => void): unknown }): AbortController => {
        const ac = new AbortController();
        const stopped = this.stopped.signal;
        if (stopped.aborted) ac.abort();
        else stopped.addEventListener('abort', () => ac.abort(), { once: true, signal: ac.signal });
        call.on('cancelled', () => ac.abort());
        return ac;
      },
    };
    server.addService(StreamsService, streamsService(this.log, tracker));
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

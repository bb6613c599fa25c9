/**
 * A Kafka wire-protocol test double: a TCP server speaking the Kafka protocol
 * (https://kafka.apache.org/protocol) for what an idempotent producer sends: ApiVersions, Metadata,
 * InitProducerId and Produce with record batches v2, with the partition leader's sequence rules (KIP-98).
 * One broker (node 1) leads every partition. See README.md here for what it does not do; it has never been
 * run against a real broker's answers.
 *
 *   const kafka = await startKafkaFake({ topics: [{ name: 'account', partitions: 3 }] });
 *   new Kafka({ brokers: kafka.brokers }) ... ; kafka.records('account'); await kafka.close();
 */
import net from 'node:net';
import {
  ApiKey,
  apiVersions,
  initProducerId,
  metadata,
  produce,
  supported,
  type BrokerState,
  type Refusal,
} from './apis';
import { ErrorCode } from './errors';
import { Topics } from './log';
import type { StoredRecord } from './log';
import { Reader, WireError, Writer } from './wire';

export type { StoredRecord, Refusal };
export { encodeRecordBatch, decodeRecordBatch, Compression } from './record-batch';
export { crc32c } from './crc32c';
export { ErrorCode } from './errors';
export { API_VERSIONS, ApiKey } from './apis';

export interface KafkaFakeOptions {
  topics?: { name: string; partitions: number }[];
  /** Create unknown topics named in Metadata (as `auto.create.topics.enable`). Default false (a broker's is true). */
  autoCreateTopics?: boolean;
  /** Partitions of an auto-created topic (as `num.partitions`). Default 1. */
  autoCreatePartitions?: number;
  /** Port to listen on, 127.0.0.1. Default 0: one the system picks. */
  port?: number;
}

export interface RequestSeen {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** 'answered', 'no-response' (acks=0), 'unsupported' (error answer), 'malformed' (connection closed). */
  outcome: 'answered' | 'no-response' | 'unsupported' | 'malformed';
}

export interface KafkaFake {
  brokers: string[];
  records(topic: string): StoredRecord[];
  dropConnections(): void;
  close(): Promise<void>;
  /** The address Metadata gives for the broker (as `advertised.listeners`); by default the fake's own. To put
   * a proxy between client and fake: start the fake, a proxy to `brokers[0]`, then advertise the proxy, or
   * the client would connect past the proxy to the address Metadata names. */
  advertise(host: string, port: number): void;
  /** The broker down: every connection closed and new ones refused until `start()`; the state is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port after `stop()` (a no-op while it runs). */
  start(): Promise<void>;
  /** Creates a topic (as an admin would); throws if it exists. */
  createTopic(name: string, partitions: number): void;
  /** The next Produce request that appends anything is appended, then every connection is closed before
   * its response is written: the client cannot know the batch was written and must retry it. */
  dropConnectionsAfterNextAppend(): void;
  /** Every request received, in order. */
  requests(): RequestSeen[];
  /** Every partition-level refusal of a produced batch, with the error code and why. */
  refusals(): Refusal[];
  /** Produced batches answered as duplicates of an earlier append, not written again. */
  duplicatesAnswered(): number;
  /** Producer ids issued by InitProducerId, in order. */
  producerIds(): bigint[];
  /** Client connections accepted since the start. */
  connectionsAccepted(): number;
}

/** socket.request.max.bytes' default: a larger frame closes the connection. */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

export async function startKafkaFake(options: KafkaFakeOptions = {}): Promise<KafkaFake> {
  const topics = new Topics();
  for (const t of options.topics ?? []) topics.create(t.name, t.partitions);
  const sockets = new Set<net.Socket>();
  const seen: RequestSeen[] = [];
  let accepted = 0;
  let dropAfterAppend = false;

  const dropConnections = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };

  const state: BrokerState = {
    nodeId: 1,
    host: '127.0.0.1',
    port: 0,
    clusterId: 'kafka-fake-cluster',
    topics,
    autoCreateTopics: options.autoCreateTopics ?? false,
    autoCreatePartitions: options.autoCreatePartitions ?? 1,
    leaderPending: new Set(),
    producers: new Map(),
    nextProducerId: 1000n,
    refusals: [],
    duplicates: 0,
    afterAppend: () => {
      if (dropAfterAppend) {
        dropAfterAppend = false;
        dropConnections();
      }
    },
  };

  const accept = (socket: net.Socket): void => {
    accepted++;
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && !socket.destroyed) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > MAX_REQUEST_BYTES) {
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) return;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        let response: ReturnType<typeof serve>;
        try {
          response = serve(state, frame, seen);
        } catch (e) {
          // A fault of the fake itself: loud, and the client sees a dead connection rather than a hang.
          console.error('kafka fake: internal error serving a request', e);
          response = 'close';
        }
        if (response === 'close') {
          socket.destroy();
          return;
        }
        if (response && !socket.destroyed) socket.write(response);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };

  let listening = options.port ?? 0;
  let server: net.Server | null = null;
  const listen = async (): Promise<void> => {
    if (server) return;
    const s = net.createServer(accept);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      // exclusive: a restart must own the port again.
      s.listen({ port: listening, host: '127.0.0.1', exclusive: true }, () => {
        s.off('error', reject);
        resolve();
      });
    });
    s.on('error', () => undefined);
    listening = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const stopListening = async (): Promise<void> => {
    const s = server;
    server = null;
    const closed = s ? new Promise<void>((resolve) => s.close(() => resolve())) : null;
    dropConnections();
    await closed;
  };
  await listen();
  state.port = listening;

  return {
    brokers: [`127.0.0.1:${listening}`],
    records(topic) {
      const partitions = topics.get(topic);
      if (!partitions) return [];
      return partitions.flatMap((p) => p.records.map((r) => ({ ...r, headers: { ...r.headers } })));
    },
    dropConnections,
    close: stopListening,
    stop: stopListening,
    start: listen,
    advertise: (host, port) => {
      state.host = host;
      state.port = port;
    },
    createTopic: (name, partitions) => topics.create(name, partitions),
    dropConnectionsAfterNextAppend: () => {
      dropAfterAppend = true;
    },
    requests: () => [...seen],
    refusals: () => [...state.refusals],
    duplicatesAnswered: () => state.duplicates,
    producerIds: () => [...state.producers.keys()],
    connectionsAccepted: () => accepted,
  };
}

/** One request frame (header v1 + body) to its response frame, null (no response) or 'close'. */
function serve(state: BrokerState, frame: Buffer, seen: RequestSeen[]): Buffer | null | 'close' {
  const r = new Reader(frame);
  let header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null };
  try {
    header = {
      apiKey: r.int16(),
      apiVersion: r.int16(),
      correlationId: r.int32(),
      clientId: r.nullableString(),
    };
  } catch {
    return 'close'; // no header to answer to
  }
  const log = (outcome: RequestSeen['outcome']): void => void seen.push({ ...header, outcome });
  const { apiKey, apiVersion } = header;
  let body: Writer | null;
  if (apiKey === ApiKey.ApiVersions) {
    // Answered whatever the version (the header of ApiVersions is v1 or, from v3, v2: only what precedes the
    // body is needed here, and the response header is always v0).
    body = apiVersions(apiVersion);
    log(supported(apiKey, apiVersion) ? 'answered' : 'unsupported');
  } else if (!supported(apiKey, apiVersion)) {
    // A broker closes the connection here; the fake answers, so nothing hangs and the log says why: the
    // error code that starts most response bodies.
    log('unsupported');
    body = new Writer().int16(ErrorCode.UNSUPPORTED_VERSION);
  } else {
    try {
      if (apiKey === ApiKey.Metadata) body = metadata(state, apiVersion, r);
      else if (apiKey === ApiKey.InitProducerId) body = initProducerId(state, r);
      else body = produce(state, apiVersion, r);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      log('malformed'); // as a broker does with an unparseable request: close the connection
      return 'close';
    }
    log(body === null ? 'no-response' : 'answered');
  }
  if (body === null) return null;
  const payload = body.toBuffer();
  return new Writer()
    .int32(payload.length + 4)
    .int32(header.correlationId)
    .raw(payload)
    .toBuffer();
}

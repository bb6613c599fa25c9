/**
 * The requests the fake serves, each at exactly the versions listed in API_VERSIONS (the field layouts are
 * Apache Kafka's clients/src/main/resources/common/message/*.json; all listed versions are non-flexible,
 * so no tagged fields and request header v1 / response header v0). kafkajs 2.2 picks, per API, the
 * highest version both sides know: ApiVersions 2, Metadata 6, InitProducerId 1, Produce 7.
 */
import { BatchError, ErrorCode } from './errors';
import { PartitionLog, Topics, validTopicName } from './log';
import { decodeRecordBatch, splitBatches } from './record-batch';
import { Reader, Writer } from './wire';

export const ApiKey = { Produce: 0, Metadata: 3, ApiVersions: 18, InitProducerId: 22 } as const;

/** [apiKey, minVersion, maxVersion]. Produce starts at 3, the first version carrying record batches v2. */
export const API_VERSIONS: readonly (readonly [number, number, number])[] = [
  [ApiKey.Produce, 3, 7],
  [ApiKey.Metadata, 0, 6],
  [ApiKey.ApiVersions, 0, 2],
  [ApiKey.InitProducerId, 0, 1],
];

export function supported(apiKey: number, version: number): boolean {
  return API_VERSIONS.some(([k, min, max]) => k === apiKey && version >= min && version <= max);
}

export interface Refusal {
  topic: string;
  partition: number;
  code: number;
  message: string;
}

export interface BrokerState {
  nodeId: number;
  host: string;
  port: number;
  clusterId: string;
  topics: Topics;
  autoCreateTopics: boolean;
  autoCreatePartitions: number;
  /** Topics auto-created whose first metadata answer (LEADER_NOT_AVAILABLE) is still to be given. */
  leaderPending: Set<string>;
  producers: Map<bigint, number>; // producer id -> epoch issued
  nextProducerId: bigint;
  refusals: Refusal[];
  /** Batches answered as duplicates of an earlier append (not written again). */
  duplicates: number;
  /** Called after a Produce request appended at least one batch, before its response is written. */
  afterAppend: () => void;
}

/**
 * ApiVersions (key 18). An unsupported version is answered in the v0 layout with UNSUPPORTED_VERSION and
 * the full list, as brokers do (KIP-511), so the client can retry with a version from it.
 */
export function apiVersions(version: number): Writer {
  const w = new Writer();
  w.int16(supported(ApiKey.ApiVersions, version) ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION);
  w.array(API_VERSIONS, (w, [k, min, max]) => w.int16(k).int16(min).int16(max));
  if (version >= 1 && supported(ApiKey.ApiVersions, version)) w.int32(0); // throttle_time_ms
  return w;
}

/** Metadata (key 3), v0-v6. */
export function metadata(state: BrokerState, version: number, r: Reader): Writer {
  const requested = version === 0 ? r.array((r) => r.string()) : r.nullableArray((r) => r.string());
  const allowAutoCreate = version >= 4 ? r.boolean() : true;
  // v0: an empty list means every topic; v1+: null means every topic, an empty list none.
  const all = requested === null || (version === 0 && requested.length === 0);
  const names = all ? state.topics.names() : [...new Set(requested)];

  const w = new Writer();
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.array([state], (w, b) => {
    w.int32(b.nodeId).nullableString(b.host).int32(b.port);
    if (version >= 1) w.nullableString(null); // rack
  });
  if (version >= 2) w.nullableString(state.clusterId);
  if (version >= 1) w.int32(state.nodeId); // controller_id
  w.array(names, (w, name) => {
    let error: number = ErrorCode.NONE;
    let partitions = state.topics.get(name);
    if (!partitions) {
      if (!validTopicName(name)) error = ErrorCode.INVALID_TOPIC_EXCEPTION;
      else if (state.autoCreateTopics && allowAutoCreate) {
        state.topics.create(name, state.autoCreatePartitions);
        state.leaderPending.add(name);
      } else error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (state.leaderPending.delete(name)) {
      // A broker answers the request that created a topic before a leader is elected for it.
      error = ErrorCode.LEADER_NOT_AVAILABLE;
      partitions = undefined;
    } else if (error === ErrorCode.NONE) partitions = state.topics.get(name);
    w.int16(error).nullableString(name);
    if (version >= 1) w.boolean(false); // is_internal
    w.array(partitions ?? [], (w, p: PartitionLog) => {
      w.int16(ErrorCode.NONE).int32(p.partition).int32(state.nodeId);
      w.array([state.nodeId], (w, n) => w.int32(n)); // replica_nodes
      w.array([state.nodeId], (w, n) => w.int32(n)); // isr_nodes
      if (version >= 5) w.array([], () => {}); // offline_replicas
    });
  });
  return w;
}

/**
 * InitProducerId (key 22), v0-v1. Without a transactional id, a fresh producer id with epoch 0, as the
 * broker's idempotent path does. Transactions are not implemented: a transactional id is INVALID_REQUEST.
 */
export function initProducerId(state: BrokerState, r: Reader): Writer {
  const transactionalId = r.nullableString();
  r.int32(); // transaction_timeout_ms
  const w = new Writer().int32(0); // throttle_time_ms
  if (transactionalId !== null) return w.int16(ErrorCode.INVALID_REQUEST).int64(-1n).int16(-1);
  const id = state.nextProducerId++;
  state.producers.set(id, 0);
  return w.int16(ErrorCode.NONE).int64(id).int16(0);
}

interface PartitionResult {
  index: number;
  code: number;
  baseOffset: bigint;
}

/** Produce (key 0), v3-v7. Returns null for acks=0, which has no response. */
export function produce(state: BrokerState, version: number, r: Reader): Writer | null {
  const transactionalId = r.nullableString();
  const acks = r.int16();
  r.int32(); // timeout_ms: one broker, nothing to wait for
  const topicData = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() })),
  }));

  let appended = false;
  const results = topicData.map(({ name, partitions }) => ({
    name,
    partitions: partitions.map(({ index, records }): PartitionResult => {
      try {
        if (acks !== -1 && acks !== 0 && acks !== 1) {
          throw new BatchError(ErrorCode.INVALID_REQUIRED_ACKS, `acks ${acks}`);
        }
        const log = state.topics.get(name)?.[index];
        if (!log)
          throw new BatchError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${name}/${index} does not exist`);
        const batches = splitBatches(records ?? Buffer.alloc(0));
        if (batches.length !== 1) {
          throw new BatchError(
            ErrorCode.INVALID_RECORD,
            `${batches.length} batches: Produce v3+ takes exactly one`,
          );
        }
        const batch = decodeRecordBatch(batches[0]!);
        if (transactionalId !== null || batch.transactional) {
          throw new BatchError(ErrorCode.INVALID_TXN_STATE, 'transactions are not implemented by the fake');
        }
        if (batch.control) throw new BatchError(ErrorCode.INVALID_RECORD, 'control batch from a client');
        const result = log.append(batch, (id) => state.producers.has(id));
        if (result.duplicate) state.duplicates++;
        else appended = true;
        return { index, code: ErrorCode.NONE, baseOffset: result.baseOffset };
      } catch (e) {
        if (!(e instanceof BatchError)) throw e;
        state.refusals.push({ topic: name, partition: index, code: e.code, message: e.message });
        return { index, code: e.code, baseOffset: -1n };
      }
    }),
  }));
  if (appended) state.afterAppend();
  if (acks === 0) return null;

  const w = new Writer();
  w.array(results, (w, t) => {
    w.nullableString(t.name);
    w.array(t.partitions, (w, p) => {
      w.int32(p.index).int16(p.code).int64(p.baseOffset).int64(-1n); // log_append_time_ms: CreateTime
      if (version >= 5) w.int64(p.code === ErrorCode.NONE ? 0n : -1n); // log_start_offset
    });
  });
  w.int32(0); // throttle_time_ms
  return w;
}

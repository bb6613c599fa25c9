import { randomBytes, randomUUID } from 'node:crypto';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type RecordedEvent,
  type SubscriptionMessage,
} from '../../src/application/event-store';

export type ContractSubject = { store: EventStore; close: () => Promise<void> };

/** The suite's store and the current test's stream-name prefix, with helpers bound to them. */
export type ContractContext = {
  readonly store: EventStore;
  readonly ns: string;
  append(stream: string, events: NewEvent[], expectedRevision?: ExpectedRevision): Promise<AppendResult>;
  /** The position of the last event in the store: "after" it, only what the test appends. */
  head(): Promise<Position | undefined>;
  /** The events of the current test's streams. */
  mine(events: RecordedEvent[]): RecordedEvent[];
};

/** Opens the store once for the suite and gives every test a fresh stream-name prefix. */
export const useContractStore = (open: () => Promise<ContractSubject>): ContractContext => {
  let subject: ContractSubject | undefined;
  let ns = '';
  beforeAll(async () => {
    subject = await open();
  });
  afterAll(async () => {
    await subject?.close();
  });
  beforeEach(() => {
    ns = `c${randomBytes(5).toString('hex')}`;
  });
  const store = (): EventStore => {
    if (!subject) throw new Error('the store did not open');
    return subject.store;
  };
  return {
    get store() {
      return store();
    },
    get ns() {
      return ns;
    },
    append: (stream, events, expectedRevision) =>
      store().appendToStream(
        stream,
        events,
        expectedRevision === undefined ? undefined : { expectedRevision },
      ),
    head: async () => (await store().readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.position,
    mine: (events) => events.filter((e) => e.streamId.startsWith(ns)),
  };
};

export const event = (type: string, data: unknown = {}, metadata?: Record<string, unknown>): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  ...(metadata ? { metadata } : {}),
});

export const ids = (events: RecordedEvent[]): string[] => events.map((e) => e.id);

export const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
};

export const expectWrongVersion = async (
  promise: Promise<unknown>,
  stream: string,
  expected: ExpectedRevision,
  actual: number | 'no_stream',
): Promise<void> => {
  const e = await rejection(promise);
  expect(e).toBeInstanceOf(WrongExpectedVersionError);
  expect(e).toMatchObject({ code: 'wrong-expected-version', streamId: stream, expected, actual });
};

export const expectStrictlyIncreasing = (positions: Position[]): void => {
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
};

/** Collects messages until `until` says stop (or `timeoutMs`), then aborts the subscription. */
export const collectSubscription = async (
  store: EventStore,
  options: Parameters<EventStore['subscribeToAll']>[0],
  until: (seen: SubscriptionMessage[]) => boolean,
  timeoutMs: number,
): Promise<SubscriptionMessage[]> => {
  const seen: SubscriptionMessage[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    for await (const m of store.subscribeToAll({ ...options, signal: ac.signal })) {
      seen.push(m);
      if (until(seen)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
};

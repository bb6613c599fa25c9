/**
 * gRPC exchanges whose outcome the server's source does not settle beyond doubt (see the header of index.ts),
 * each as a scenario run through the real client 6.2 against a connection string. The outcome is reduced to
 * what does not depend on one server's byte offsets (which event, which message kinds, which position
 * shapes), so a recording from a real 24.10 server (scripts/record-esdb-exchanges.ts) can be compared with
 * the fake (test/contract/esdb-recordings.test.ts).
 *
 * Cases that cannot be provoked on a healthy server and so stay unrecorded: not-ready and too-busy answers,
 * commit timeouts, RST_STREAM, falling behind at exactly 32 entries (a burst of 10,000 events can provoke
 * it, but not deterministically).
 */
import { randomUUID } from 'node:crypto';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  streamNameFilter,
  type Position,
} from '@eventstore/db-client';

export type Transcript = unknown[];
export type Exchange = { name: string; why: string; run: (connectionString: string) => Promise<Transcript> };

const shape = (p: Position): string =>
  p.commit === 0n && p.prepare === 0n
    ? '(0,0)'
    : p.prepare === 0n
      ? '(X,0)'
      : p.commit === p.prepare
        ? '(P,P)'
        : '(C,P)';

const withClient = async <T>(
  cs: string,
  f: (c: EventStoreDBClient, ns: string) => Promise<T>,
): Promise<T> => {
  const client = EventStoreDBClient.connectionString(cs);
  try {
    return await f(client, `rec${randomUUID().replace(/-/g, '').slice(0, 10)}`);
  } finally {
    await client.dispose();
  }
};

const json = (type: string, data: Record<string, number> = {}, id?: string) =>
  jsonEvent({ type, data, ...(id ? { id } : {}) });

/** Messages of a filtered subscription until `stop` says so (or a second passed). */
const subscribeKinds = async (
  client: EventStoreDBClient,
  from: Position | undefined,
  prefixes: string[],
  stop: (kinds: string[]) => boolean,
  onCaughtUp?: () => Promise<unknown>,
): Promise<string[]> => {
  const kinds: string[] = [];
  const filter = streamNameFilter({
    prefixes,
    maxSearchWindow: 32,
    checkpointInterval: 1,
    checkpointReached: (_s, p) => void kinds.push(`checkpoint${shape(p)}`),
  });
  const sub = client.subscribeToAll({ ...(from ? { fromPosition: from } : {}), filter });
  await new Promise<void>((settle) => {
    const timer = setTimeout(settle, 1000);
    const resolve = (): void => {
      clearTimeout(timer);
      settle();
    };
    sub.on('data', (r) => {
      kinds.push(`event:${r.event?.type ?? '?'}`);
      if (stop(kinds)) resolve();
    });
    sub.on('caughtUp', () => {
      kinds.push('caughtUp');
      void onCaughtUp?.();
      if (stop(kinds)) resolve();
    });
    sub.on('error', resolve);
  });
  await sub.unsubscribe();
  return kinds;
};

export const exchanges: Exchange[] = [
  {
    name: 'read-all-backwards-from-a-position',
    why: 'is the event AT the position excluded from a backwards read of $all?',
    run: (cs) =>
      withClient(cs, async (c, ns) => {
        await c.appendToStream(`${ns}-s`, [json('A'), json('B'), json('C')]);
        const mine = [];
        for await (const r of c.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 50 })) {
          if (r.event?.streamId === `${ns}-s`) mine.push(r.event);
        }
        const c3 = mine.find((e) => e.type === 'C')!;
        const got = [];
        for await (const r of c.readAll({ direction: BACKWARDS, fromPosition: c3.position!, maxCount: 1 })) {
          got.push(r.event?.type);
        }
        return [got, mine.map((e) => shape(e.position!))];
      }),
  },
  {
    name: 'subscribe-past-the-end',
    why: 'a checkpoint past the end: caughtUp at once, later events at or below it skipped silently',
    run: (cs) =>
      withClient(cs, async (c, ns) => {
        let last: Position | undefined;
        for await (const r of c.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }))
          last = r.event?.position;
        const far = {
          commit: (last?.commit ?? 0n) + 10_000_000n,
          prepare: (last?.commit ?? 0n) + 10_000_000n,
        };
        return subscribeKinds(
          c,
          far,
          [`${ns}-`],
          () => false,
          () => c.appendToStream(`${ns}-late`, [json('Late')]),
        );
      }),
  },
  {
    name: 'catch-up-checkpoint-shapes',
    why: 'which checkpoints a filtered catch-up sends, of which shapes, and one at its end',
    run: (cs) =>
      withClient(cs, async (c, ns) => {
        await c.appendToStream(`${ns}-w`, [json('Wanted')]);
        await c.appendToStream(
          `${ns}-n`,
          Array.from({ length: 70 }, (_, i) => json('Noise', { i })),
        );
        const kinds = await subscribeKinds(c, undefined, [`${ns}-w`], (k) => k.includes('caughtUp'));
        // The history before this test's events differs between servers: keep what follows our event.
        return kinds.slice(kinds.indexOf('event:Wanted'));
      }),
  },
  {
    name: 'idempotent-re-appends',
    why: 'what a re-append of the same ids answers (revision, position of first or last event), and a partial overlap',
    run: (cs) =>
      withClient(cs, async (c, ns) => {
        const s = `${ns}-i`;
        const [a, b] = [randomUUID(), randomUUID()];
        const first = await c.appendToStream(s, [json('A', {}, a), json('B', {}, b)]);
        const out: unknown[] = [first.nextExpectedRevision.toString()];
        const again = await c.appendToStream(s, [json('A', {}, a), json('B', {}, b)]);
        out.push(
          again.nextExpectedRevision.toString(),
          again.position?.commit === first.position?.commit ? 'first' : 'other',
        );
        const exact = await c
          .appendToStream(s, [json('A', {}, a)], { expectedRevision: 'no_stream' })
          .catch((e: Error) => e.constructor.name);
        out.push(typeof exact === 'string' ? exact : exact.nextExpectedRevision.toString());
        const partial = await c
          .appendToStream(s, [json('A', {}, a), json('C')], { expectedRevision: 'any' })
          .then(
            (r) => r.nextExpectedRevision.toString(),
            (e: Error) => e.constructor.name,
          );
        out.push(partial);
        const read = [];
        for await (const r of c.readStream(s, { direction: FORWARDS })) read.push(r.event?.type);
        out.push(read);
        return out;
      }),
  },
  {
    name: 'soft-delete-of-a-metadata-only-stream',
    why: 'a stream with metadata and no event: does a soft delete succeed?',
    run: (cs) =>
      withClient(cs, async (c, ns) => {
        await c.setStreamMetadata(`${ns}-m`, { maxCount: 10 });
        return [
          await c.deleteStream(`${ns}-m`).then(
            () => 'deleted',
            (e: Error) => e.constructor.name,
          ),
        ];
      }),
  },
];

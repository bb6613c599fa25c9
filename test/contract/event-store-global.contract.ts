import { isPosition, type EventStore } from '../../src/application/event-store';
import { event, expectStrictlyIncreasing, ids, type ContractContext } from './event-store-contract-support';
import { SubscriptionRecorder } from './subscription-recorder';

/** The global order: readAll in both directions, filters and checkpoints, subscriptions. */
export const describeGlobalOrderContract = (ctx: ContractContext): void => {
  let store: EventStore;
  let ns: string;
  beforeEach(() => {
    ({ store, ns } = ctx);
  });
  const { append, head } = ctx;

  describe('reading all', () => {
    const appendOrder = async () => {
      const a = [event('A0'), event('A1')];
      const b = [event('B0')];
      const a2 = [event('A2')];
      await append(`${ns}-a`, a);
      await append(`${ns}-b`, b);
      await append(`${ns}-a`, a2);
      return [...a, ...b, ...a2].map((e) => e.id);
    };

    it('returns events in append order, strictly after an exclusive position, up to maxCount', async () => {
      const start = await head();
      const order = await appendOrder();
      const all = (await store.readAll({ after: start })).events;
      expect(ids(all)).toEqual(order);
      expectStrictlyIncreasing(all.map((e) => e.position));

      expect(ids((await store.readAll({ after: all[1]!.position })).events)).toEqual(order.slice(2));
      expect(ids((await store.readAll({ after: all[0]!.position, maxCount: 2 })).events)).toEqual(
        order.slice(1, 3),
      );
      const atEnd = await store.readAll({ after: all[3]!.position });
      expect(atEnd.events).toEqual([]);
      expect(atEnd.checkpoint).toBeUndefined();
    });

    it('reads backwards from the end, and strictly before an exclusive position', async () => {
      const order = await appendOrder();
      const back = (await store.readAll({ direction: 'backwards', maxCount: 4 })).events;
      expect(ids(back)).toEqual([...order].reverse());
      const before = await store.readAll({ direction: 'backwards', after: back[0]!.position, maxCount: 2 });
      expect(ids(before.events)).toEqual([order[2], order[1]]);
    });

    it('gives every append a position greater than the one before, the same one readAll reports', async () => {
      const start = await head();
      const results = [];
      for (let i = 0; i < 12; i++) results.push(await append(`${ns}-${i % 3}`, [event('Ticked', { i })]));
      const positions = results.map((r) => r.position);
      expect(positions.every(isPosition)).toBe(true);
      expectStrictlyIncreasing(positions);
      expect((await store.readAll({ after: start })).events.map((e) => e.position)).toEqual(positions);
    });

    it('filters by stream prefix and checkpoints past the events it filtered out', async () => {
      const start = await head();
      const [x0, y0, x1, y1, y2] = [event('X'), event('Y'), event('X'), event('Y'), event('Y')];
      for (const [stream, e] of [
        ['x', x0],
        ['y', y0],
        ['x', x1],
        ['y', y1],
        ['y', y2],
      ] as const) {
        await append(`${ns}-${stream}`, [e]);
      }
      const everything = (await store.readAll({ after: start })).events;
      const filter = { streamPrefixes: [`${ns}-x`] };

      const page = await store.readAll({ after: start, filter });
      expect(ids(page.events)).toEqual([x0.id, x1.id]);
      expect(page.checkpoint).toBe(everything[4]!.position);
      expect(ids(page.events)).toEqual(ids(everything.filter((e) => e.streamId === `${ns}-x`)));

      const x2 = event('X');
      await append(`${ns}-x`, [x2]);
      const next = await store.readAll({ after: page.checkpoint, filter });
      expect(ids(next.events)).toEqual([x2.id]);
      expect(next.checkpoint).toBe(next.events[0]!.position);

      const none = await store.readAll({
        after: start,
        filter: { streamPrefixes: [`${ns}-z`, `${ns}-w`] },
      });
      expect(none.events).toEqual([]);
      expect(none.checkpoint).toBe(next.events[0]!.position);
      expect(
        ids(
          (await store.readAll({ after: start, filter: { streamPrefixes: [`${ns}-y`, `${ns}-x`] } })).events,
        ),
      ).toEqual([x0, y0, x1, y1, y2, x2].map((e) => e.id));
    });

    it('filters by event type prefix, combined with a stream prefix when both are given', async () => {
      const start = await head();
      const types = ['WidgetAdded', 'GadgetAdded', 'WidgetRemoved', 'WidgetAdded', 'Widget%Odd'];
      const sent = types.map((t) => event(t));
      for (const [i, e] of sent.entries()) await append(`${ns}-${i % 2 === 0 ? 'even' : 'odd'}`, [e]);

      const read = async (filter: { streamPrefixes?: string[]; eventTypePrefixes?: string[] }) =>
        ids((await store.readAll({ after: start, filter })).events);
      expect(await read({ eventTypePrefixes: ['WidgetR'] })).toEqual([sent[2]!.id]);
      expect(await read({ eventTypePrefixes: ['Gadget', 'WidgetRem'] })).toEqual([sent[1]!.id, sent[2]!.id]);
      expect(await read({ eventTypePrefixes: ['Widget%'] })).toEqual([sent[4]!.id]);
      expect(await read({ eventTypePrefixes: ['WidgetAdded'], streamPrefixes: [`${ns}-even`] })).toEqual([
        sent[0]!.id,
      ]);
      expect(await read({ eventTypePrefixes: ['Widget_dded'] })).toEqual([]);
    });

    it('a full filtered page checkpoints no further than its last match, so paging misses nothing', async () => {
      const start = await head();
      const sent = [event('X'), event('Y'), event('X'), event('Y')];
      for (const [i, e] of sent.entries()) await append(`${ns}-${i % 2 === 0 ? 'x' : 'y'}`, [e]);
      const all = (await store.readAll({ after: start })).events;
      const filter = { streamPrefixes: [`${ns}-x`] };

      const first = await store.readAll({ after: start, filter, maxCount: 1 });
      expect(ids(first.events)).toEqual([sent[0]!.id]);
      expect(first.checkpoint! >= all[0]!.position && first.checkpoint! < all[2]!.position).toBe(true);

      const second = await store.readAll({ after: first.checkpoint, filter, maxCount: 1 });
      expect(ids(second.events)).toEqual([sent[2]!.id]);
      expect(second.checkpoint! >= all[2]!.position).toBe(true);

      const third = await store.readAll({ after: second.checkpoint, filter, maxCount: 1 });
      expect(third.events).toEqual([]);
      expect(third.checkpoint ?? second.checkpoint).toBe(all[3]!.position);
    });
  });

  describe('subscribing to all', () => {
    it('catches up, reports caught-up once, then delivers live events in order', async () => {
      const start = await head();
      const stream = `${ns}-live`;
      const sent = [0, 1, 2, 3, 4].map((n) => event('Counted', { n }));
      await append(stream, sent.slice(0, 3));

      const rec = new SubscriptionRecorder(store, { from: start });
      try {
        await rec.until((r) => r.caughtUp, 'caught-up');
        expect(ids(rec.events())).toEqual(ids(await store.readStream(stream)));
        await append(stream, [sent[3]!]);
        await append(stream, [sent[4]!]);
        await rec.until((r) => r.events().length === 5, 'five events');

        expect(ids(rec.events())).toEqual(sent.map((e) => e.id));
        expect(rec.events().map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
        expectStrictlyIncreasing(rec.events().map((e) => e.position));
        const kinds = rec.messages.filter((m) => m.kind !== 'checkpoint').map((m) => m.kind);
        expect(kinds).toEqual(['event', 'event', 'event', 'caught-up', 'event', 'event']);
        const caughtUp = rec.messages.find((m) => m.kind === 'caught-up');
        if (caughtUp?.kind === 'caught-up' && caughtUp.position !== undefined) {
          expect(caughtUp.position).toBe(rec.events()[2]!.position);
        }
      } finally {
        await rec.stop();
      }
    });

    it('resumes strictly after a position without redelivering or losing events', async () => {
      const start = await head();
      const stream = `${ns}-resume`;
      const sent = [0, 1, 2, 3, 4].map((n) => event('Counted', { n }));
      await append(stream, sent.slice(0, 4));

      const first = new SubscriptionRecorder(store, { from: start });
      await first.until((r) => r.events().length >= 2, 'two events');
      await first.stop();
      const resumeAt = first.events()[1]!.position;

      const second = new SubscriptionRecorder(store, { from: resumeAt });
      try {
        await second.until((r) => r.caughtUp, 'caught-up');
        await append(stream, [sent[4]!]);
        await second.until((r) => r.events().length === 3, 'three events');
        expect(ids(second.events())).toEqual(sent.slice(2).map((e) => e.id));
      } finally {
        await second.stop();
      }
    });

    it('a filtered subscription delivers only matching events and checkpoints past the others', async () => {
      const start = await head();
      await append(`${ns}-y`, [event('Y'), event('Y')]);
      const skipped = (await store.readAll({ after: start })).events;

      const rec = new SubscriptionRecorder(store, { from: start, filter: { streamPrefixes: [`${ns}-x`] } });
      try {
        await rec.until((r) => r.caughtUp, 'caught-up');
        const beforeCaughtUp = rec.messages.slice(
          0,
          rec.messages.findIndex((m) => m.kind === 'caught-up'),
        );
        expect(beforeCaughtUp.some((m) => m.kind === 'event')).toBe(false);
        expect(
          beforeCaughtUp.some((m) => m.kind === 'checkpoint' && m.position >= skipped[1]!.position),
        ).toBe(true);

        const y2 = await append(`${ns}-y`, [event('Y')]);
        await rec.until(
          (r) => r.messages.some((m) => m.kind === 'checkpoint' && m.position >= y2.position),
          'a checkpoint past the live filtered-out event',
        );
        const x0 = event('X');
        await append(`${ns}-x`, [x0]);
        await rec.until((r) => r.events().length === 1, 'the matching event');

        expect(ids(rec.events())).toEqual([x0.id]);
        const checkpoints = rec.messages.flatMap((m) => (m.kind === 'checkpoint' ? [m.position] : []));
        expectStrictlyIncreasing(checkpoints);
        expect(checkpoints.every((c) => c < rec.events()[0]!.position)).toBe(true);
      } finally {
        await rec.stop();
      }
    });

    it("from 'end' delivers only events appended after subscribing", async () => {
      await append(`${ns}-old`, [event('Old'), event('Old')]);
      const rec = new SubscriptionRecorder(store, { from: 'end' });
      try {
        await rec.until((r) => r.caughtUp, 'caught-up');
        const fresh = event('Fresh');
        await append(`${ns}-new`, [fresh]);
        await rec.until((r) => r.events().length === 1, 'the new event');
        expect(ids(rec.events())).toEqual([fresh.id]);
      } finally {
        await rec.stop();
      }
    });

    it('aborting the signal ends the iteration, and an aborted signal yields nothing', async () => {
      const rec = new SubscriptionRecorder(store, { from: 'end' });
      await rec.until((r) => r.caughtUp, 'caught-up');
      const started = Date.now();
      await rec.stop();
      expect(Date.now() - started).toBeLessThan(2_000);

      const aborted = new AbortController();
      aborted.abort();
      const seen = [];
      for await (const m of store.subscribeToAll({ signal: aborted.signal })) seen.push(m);
      expect(seen).toEqual([]);
    });
  });
};

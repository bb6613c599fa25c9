import {
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  isPosition,
  type EventStore,
} from '../../src/application/event-store';
import {
  event,
  expectStrictlyIncreasing,
  expectWrongVersion,
  rejection,
  type ContractContext,
} from './event-store-contract-support';

/** Streams: appends, expected revisions, atomic batches, stream reads, deletes. */
export const describeStreamContract = (ctx: ContractContext): void => {
  let store: EventStore;
  let ns: string;
  beforeEach(() => {
    ({ store, ns } = ctx);
  });
  const { append, head, mine } = ctx;

  describe('appending and reading a stream', () => {
    it('reads back what was appended: ids, revisions, types, data, metadata, positions', async () => {
      const stream = `${ns}-user`;
      const before = Date.now();
      const sent = [
        event(
          'UserRegistered',
          { email: 'pii:v1:abc', roles: ['user'], n: 1.5, nested: { ok: true } },
          { actor: { type: 'system' } },
        ),
        event('EmailVerified', { at: '2024-01-01T00:00:00.000Z' }, { correlation_id: 'c-1' }),
      ];
      const result = await append(stream, sent, 'no_stream');
      const read = await store.readStream(stream);

      expect(read.map((e) => [e.id, e.streamId, e.revision, e.type, e.data, e.metadata])).toEqual([
        [sent[0]!.id, stream, 0, 'UserRegistered', sent[0]!.data, { actor: { type: 'system' } }],
        [sent[1]!.id, stream, 1, 'EmailVerified', sent[1]!.data, { correlation_id: 'c-1' }],
      ]);
      expect(result.nextExpectedRevision).toBe(1);
      expect(result.position).toBe(read[1]!.position);
      expect(read.every((e) => isPosition(e.position))).toBe(true);
      expectStrictlyIncreasing(read.map((e) => e.position));
      for (const e of read) {
        expect(e.createdAt).toBeInstanceOf(Date);
        expect(e.createdAt.getTime()).toBeGreaterThanOrEqual(before - 5_000);
        expect(e.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 5_000);
      }
    });

    it('gives an event without an id a fresh uuid and empty metadata', async () => {
      const stream = `${ns}-session`;
      await append(stream, [
        { type: 'SessionStarted', data: { a: 1 } },
        { type: 'SessionStarted', data: { a: 2 } },
      ]);
      const [first, second] = await store.readStream(stream);
      expect(first!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(second!.id).not.toBe(first!.id);
      expect(first!.metadata).toEqual({});
    });

    it('answers not found for a stream that was never written', async () => {
      const e = await rejection(store.readStream(`${ns}-nothing`));
      expect(e).toBeInstanceOf(StreamNotFoundError);
      expect(e).toMatchObject({ code: 'stream-not-found', streamId: `${ns}-nothing` });
    });

    it('reads forwards, backwards, from a revision and up to a count', async () => {
      const stream = `${ns}-five`;
      await append(
        stream,
        [0, 1, 2, 3, 4].map((n) => event('Counted', { n })),
      );
      const revisions = async (options: Parameters<EventStore['readStream']>[1]) =>
        (await store.readStream(stream, options)).map((e) => e.revision);

      expect(await revisions({})).toEqual([0, 1, 2, 3, 4]);
      expect(await revisions({ direction: 'backwards' })).toEqual([4, 3, 2, 1, 0]);
      expect(await revisions({ fromRevision: 2 })).toEqual([2, 3, 4]);
      expect(await revisions({ fromRevision: 2, direction: 'backwards' })).toEqual([2, 1, 0]);
      expect(await revisions({ maxCount: 2 })).toEqual([0, 1]);
      expect(await revisions({ fromRevision: 1, maxCount: 2 })).toEqual([1, 2]);
      expect(await revisions({ direction: 'backwards', maxCount: 2 })).toEqual([4, 3]);
      expect(await revisions({ fromRevision: 5 })).toEqual([]);
      expect((await store.readStream(stream, { fromRevision: 3 })).map((e) => e.data)).toEqual([
        { n: 3 },
        { n: 4 },
      ]);
    });

    it('reads issued together each answer as a lone read would, errors included', async () => {
      await append(
        `${ns}-five`,
        [0, 1, 2, 3, 4].map((n) => event('Counted', { n })),
      );
      await append(`${ns}-other`, [event('Other')]);
      await append(`${ns}-gone`, [event('A')], 'no_stream');
      await store.deleteStream(`${ns}-gone`);
      await append(`${ns}-dead`, [event('A')], 'no_stream');
      await store.tombstoneStream(`${ns}-dead`);

      const reads = [
        store.readStream(`${ns}-five`),
        store.readStream(`${ns}-nothing`),
        store.readStream(`${ns}-five`, { fromRevision: 3 }),
        store.readStream(`${ns}-gone`),
        store.readStream(`${ns}-other`),
        store.readStream(`${ns}-five`, { fromRevision: 1, maxCount: 2 }),
        store.readStream(`${ns}-dead`),
        store.readStream(`${ns}-five`, { maxCount: 0 }),
        store.readStream(`${ns}-five`, { fromRevision: 9 }),
        store.readStream(`${ns}-five`, { direction: 'backwards', maxCount: 2 }),
      ];
      const settled = await Promise.allSettled(reads);
      const shown = settled.map((s) =>
        s.status === 'fulfilled'
          ? s.value.map((e) => `${e.streamId.slice(ns.length + 1)}@${e.revision}`)
          : (s.reason as Error).constructor.name,
      );
      expect(shown).toEqual([
        ['five@0', 'five@1', 'five@2', 'five@3', 'five@4'],
        'StreamNotFoundError',
        ['five@3', 'five@4'],
        'StreamNotFoundError',
        ['other@0'],
        ['five@1', 'five@2'],
        'StreamDeletedError',
        [],
        [],
        ['five@4', 'five@3'],
      ]);
      const gone = settled[1] as PromiseRejectedResult;
      expect(gone.reason).toMatchObject({ code: 'stream-not-found', streamId: `${ns}-nothing` });
    });
  });

  describe('expected revision', () => {
    it('no_stream succeeds on a new stream and then fails with the actual revision', async () => {
      const stream = `${ns}-email`;
      expect((await append(stream, [event('EmailReserved')], 'no_stream')).nextExpectedRevision).toBe(0);
      await expectWrongVersion(append(stream, [event('EmailReserved')], 'no_stream'), stream, 'no_stream', 0);
    });

    it('stream_exists fails on a new stream (actual no_stream) and succeeds once it exists', async () => {
      const stream = `${ns}-user`;
      await expectWrongVersion(
        append(stream, [event('ProfileChanged')], 'stream_exists'),
        stream,
        'stream_exists',
        'no_stream',
      );
      await append(stream, [event('UserRegistered')], 'no_stream');
      expect((await append(stream, [event('ProfileChanged')], 'stream_exists')).nextExpectedRevision).toBe(1);
    });

    it('an exact revision succeeds only at the last revision and otherwise reports the actual one', async () => {
      const stream = `${ns}-user`;
      await expectWrongVersion(append(stream, [event('A')], 0), stream, 0, 'no_stream');
      await append(stream, [event('A'), event('B')], 'no_stream');
      await expectWrongVersion(append(stream, [event('C')], 0), stream, 0, 1);
      await expectWrongVersion(append(stream, [event('C')], 2), stream, 2, 1);
      expect((await append(stream, [event('C'), event('D')], 1)).nextExpectedRevision).toBe(3);
      expect((await append(stream, [event('E')], 3)).nextExpectedRevision).toBe(4);
    });

    it('any appends whatever the stream holds', async () => {
      const stream = `${ns}-any`;
      expect((await append(stream, [event('A')], 'any')).nextExpectedRevision).toBe(0);
      expect((await append(stream, [event('B')])).nextExpectedRevision).toBe(1);
      expect((await append(stream, [event('C')], 'any')).nextExpectedRevision).toBe(2);
    });

    it('a rejected batch writes none of its events', async () => {
      const stream = `${ns}-user`;
      await append(stream, [event('A')], 'no_stream');
      await expectWrongVersion(append(stream, [event('B'), event('C'), event('D')], 5), stream, 5, 0);
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A']);
    });

    it('of 10 concurrent appends expecting the same revision exactly one wins', async () => {
      const stream = `${ns}-session`;
      await append(stream, [event('SessionStarted')], 'no_stream');
      const attempts = Array.from({ length: 10 }, (_, i) => event('RefreshTokenRotated', { attempt: i }));
      const results = await Promise.allSettled(attempts.map((e) => append(stream, [e], 0)));

      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(r.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(r.reason).toMatchObject({ expected: 0, actual: 1 });
        }
      }
      const read = await store.readStream(stream);
      expect(read.map((e) => e.revision)).toEqual([0, 1]);
      expect(read[1]!.data).toEqual({ attempt: won[0] });
    });

    it('of 10 concurrent first appends with no_stream exactly one wins', async () => {
      const stream = `${ns}-email`;
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          append(stream, [event('EmailReserved', { user: i })], 'no_stream'),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected')
          expect(r.reason).toMatchObject({ code: 'wrong-expected-version', actual: 0 });
      }
      expect(await store.readStream(stream)).toHaveLength(1);
    });
  });

  describe('atomic batches', () => {
    it('keeps each batch consecutive in its stream and contiguous in the global order under concurrency', async () => {
      const start = await head();
      const shared = `${ns}-shared`;
      const batch = (b: number) => [0, 1, 2, 3].map((n) => event('Batched', { b, n }, { batch: b }));
      const results = await Promise.all([
        ...[0, 1, 2, 3, 4].map((b) => append(shared, batch(b), 'any')),
        ...[5, 6, 7].map((b) => append(`${ns}-own-${b}`, batch(b), 'no_stream')),
      ]);

      const read = await store.readStream(shared);
      expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      for (let k = 0; k < 5; k++) {
        const slice = read.slice(k * 4, k * 4 + 4);
        expect(slice.map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 2, 3]);
        expect(new Set(slice.map((e) => e.metadata.batch)).size).toBe(1);
        const b = slice[0]!.metadata.batch as number;
        expect(results[b]!.nextExpectedRevision).toBe(k * 4 + 3);
        expect(results[b]!.position).toBe(slice[3]!.position);
      }

      const all = mine((await store.readAll({ after: start })).events);
      expect(all).toHaveLength(32);
      for (let k = 0; k < 8; k++) {
        const slice = all.slice(k * 4, k * 4 + 4);
        expect(new Set(slice.map((e) => e.metadata.batch)).size).toBe(1);
        expect(slice.map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 2, 3]);
      }
    });
  });

  describe('deleting', () => {
    it('a soft-deleted stream reads as not found, and appending again continues its revisions', async () => {
      const stream = `${ns}-user`;
      await append(stream, [event('A'), event('B'), event('C')], 'no_stream');
      await store.deleteStream(stream, { expectedRevision: 2 });

      expect(await rejection(store.readStream(stream))).toBeInstanceOf(StreamNotFoundError);
      const again = event('Again');
      expect((await append(stream, [again], 'no_stream')).nextExpectedRevision).toBe(3);
      const read = await store.readStream(stream);
      expect(read.map((e) => [e.id, e.revision])).toEqual([[again.id, 3]]);
      expect((await append(stream, [event('More')], 3)).nextExpectedRevision).toBe(4);
    });

    it('a soft delete checks the expected revision and leaves the stream alone when it is wrong', async () => {
      const stream = `${ns}-user`;
      await append(stream, [event('A'), event('B')], 'no_stream');
      await expectWrongVersion(store.deleteStream(stream, { expectedRevision: 0 }), stream, 0, 1);
      expect(await store.readStream(stream)).toHaveLength(2);
    });

    it('a tombstoned stream can never be read or written again', async () => {
      const stream = `${ns}-user`;
      await append(stream, [event('A')], 'no_stream');
      await store.tombstoneStream(stream, { expectedRevision: 0 });

      for (const attempt of [
        () => store.readStream(stream),
        () => append(stream, [event('B')], 'any'),
        () => append(stream, [event('B')], 'no_stream'),
        () => store.deleteStream(stream),
      ]) {
        const e = await rejection(attempt());
        expect(e).toBeInstanceOf(StreamDeletedError);
        expect(e).toMatchObject({ code: 'stream-deleted', streamId: stream });
      }
    });
  });
};

import { UniformTiming } from '../../../src/api/uniform-timing';

/** A clock the test moves by hand: `begin` at 0, `hold` after `ms`. */
const steered = () => {
  let t = 0;
  return { now: () => t, set: (ms: number) => (t = ms) };
};

const answerAfter = async (
  timing: UniformTiming,
  clock: ReturnType<typeof steered>,
  ms: number,
  slow: boolean,
) => {
  clock.set(0);
  const answer = timing.begin();
  clock.set(ms);
  await answer.hold(slow);
};

describe('UniformTiming', () => {
  it('learns the floor from the slow path only, so unknown addresses cannot pull it down', async () => {
    const clock = steered();
    // maxMs 0: the steered clock never moves while a hold sleeps, so nothing sleeps in this test.
    const timing = new UniformTiming({ initialMs: 5, warmup: 1, now: clock.now, maxMs: 0 });
    for (let i = 0; i < 20; i++) await answerAfter(timing, clock, 40, true);
    const learned = timing.floor;
    expect(learned).toBeGreaterThanOrEqual(40);
    for (let i = 0; i < 500; i++) await answerAfter(timing, clock, 1, false);
    expect(timing.floor).toBe(learned);
  });

  it('keeps the first guess until the machine proves slower, then follows a high quantile', async () => {
    const clock = steered();
    const timing = new UniformTiming({ initialMs: 100, warmup: 8, window: 64, now: clock.now, maxMs: 0 });
    for (let i = 0; i < 7; i++) await answerAfter(timing, clock, 20, true);
    expect(timing.floor).toBe(100);
    for (let i = 7; i < 64; i++) await answerAfter(timing, clock, 20, true);
    expect(timing.floor).toBeLessThan(30);
    // One slow outlier in a full window of 64 is above the 97th percentile; a second one is not.
    await answerAfter(timing, clock, 500, true);
    expect(timing.floor).toBeLessThan(30);
    await answerAfter(timing, clock, 500, true);
    expect(timing.floor).toBeGreaterThan(500);
  });

  it('holds a fast answer until the floor, and never longer than the cap', async () => {
    const timing = new UniformTiming({ initialMs: 60, maxMs: 1_000 });
    let started = performance.now();
    await timing.begin().hold(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    const capped = new UniformTiming({ initialMs: 10_000, maxMs: 50 });
    started = performance.now();
    await capped.begin().hold(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

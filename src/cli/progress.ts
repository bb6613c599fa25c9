import { SingleBar } from 'cli-progress';
import { decodePosition, type Position } from '../application/event-store';

export type Progress = { update: (position: Position | null, events: number) => void; stop: () => void };

/**
 * A progress bar for work over the global event order (a rebuild, a replay): percentage, events applied,
 * events per second and the time left, on stderr. The share done is measured on the store's positions (the
 * second half of a position grows with the store: PostgreSQL's global position, EventStoreDB's prepare
 * position), from where the work started to the head when it started. Quiet when stderr is not a terminal.
 */
export const progressBar = (
  label: string,
  options: { head: Position | undefined; from: Position | null; stream?: NodeJS.WriteStream },
): Progress => {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY || options.head === undefined) return { update: () => undefined, stop: () => undefined };
  const unit = (p: Position | null) => (p === null ? 0 : Number(decodePosition(p)[1]));
  const start = unit(options.from);
  const total = Math.max(1, unit(options.head) - start);
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
    fps: 5,
  });
  const began = Date.now();
  bar.start(total, 0, { events: 0, rate: 0 });
  return {
    update: (position, events) => {
      const seconds = Math.max(0.001, (Date.now() - began) / 1000);
      bar.update(Math.min(total, unit(position) - start), { events, rate: Math.round(events / seconds) });
    },
    stop: () => bar.stop(),
  };
};

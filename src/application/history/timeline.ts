import type { EventJson } from '../events/present';
import { catalogEntry } from '../../catalog';

/**
 * Presented events as a timeline a person reads at a console (`identity history`, `identity events tail`):
 * time, revision, event, who, the facts that matter, why. It is built from the PRESENTED event only
 * (events/present.ts), so it can show nothing the presenter hides. "Why is this user locked?" reads as a
 * run of `wrong password (n in a row)` lines ending in `LOCKED until ...`.
 */

const actorOf = (event: EventJson): string => {
  const actor = event.metadata.actor;
  if (!actor) return 'unknown';
  return actor.id ? `${actor.type} ${actor.id}` : actor.type;
};

export const eventFacts = (event: EventJson): string =>
  catalogEntry(event.type)?.fact(event.data) ??
  (Object.keys(event.data).length ? JSON.stringify(event.data) : '(no details shown)');

/** One line per event; `withStream` for a feed that mixes streams. */
export const timelineLine = (event: EventJson, options: { withStream?: boolean } = {}): string =>
  [
    event.occurred_at,
    options.withStream ? `${event.stream}@${event.revision}` : `#${event.revision}`,
    event.type.padEnd(28),
    `by ${actorOf(event)}`,
    eventFacts(event),
    ...(event.metadata.reason !== undefined ? [`reason: ${JSON.stringify(event.metadata.reason)}`] : []),
    ...(event.metadata.correlation_id ? [`[correlation ${event.metadata.correlation_id}]`] : []),
  ].join('  ');

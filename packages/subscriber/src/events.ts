/**
 * The typed account events, straight from the service's own schemas (src/application/events/schemas.ts),
 * so the library and the feed cannot drift apart: a changed schema changes these types at compile time.
 */
export {
  eventSchemas,
  envelopeSchema,
  feedPageSchema,
  isAccountEventType,
  parseAccountEvent,
} from '../../../src/application/events/schemas';
export type { AccountEvent, AccountEventType } from '../../../src/application/events/schemas';

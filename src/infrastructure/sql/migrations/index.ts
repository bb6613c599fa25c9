import type { Migration } from './types';
import { migration as eventStore } from './0001-event-store';
import { migration as keys } from './0002-keys';
import { migration as idempotency } from './0003-idempotency';
import { migration as subscriptions } from './0004-subscriptions';
import { migration as mailOutbox } from './0005-mail-outbox';
import { migration as projections } from './0006-projections';
import { migration as relay } from './0040-relay';

/** Every migration, listed explicitly so a missing import is a compile error, not a silently skipped file. */
export const migrations: Migration[] = [
  eventStore,
  keys,
  idempotency,
  subscriptions,
  mailOutbox,
  projections,
  relay,
];

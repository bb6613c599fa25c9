import type { RecordedEvent } from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';
import type { SubscriptionHandler } from '../../application/subscription-handler';
import { USER_STREAM_PREFIX } from '../../domain/user';
import type { MailKind } from '../../application/mail/ports';
import { catalogEntry } from '../../catalog';

/**
 * The mail side effect of the account events (STYLE.md: side effects are consumers with their own
 * checkpoint, never inside a projection, so a read-model rebuild never sends mail).
 *
 * It does not send: it records one outbox row per mail-worthy event, in the transaction that moves its
 * checkpoint, keyed by the event id so a redelivered event inserts nothing. The outbox sender delivers the
 * rows, retrying while the mail server is down, so a command never waits on SMTP. A row holds the user id,
 * the kind and the token id: the address is opened from the account's events and the token rebuilt only
 * when the mail is sent, so the mail goes to the stored address and no token is ever written down.
 */
export const MAIL_CONSUMER_NAME = 'mail-outbox';

/** Raised on commit when rows were added; the sender listens so a mail goes out at once. */
export const MAIL_OUTBOX_CHANNEL = 'mail_outbox';

export type OutboxRow = {
  eventId: string;
  userId: string;
  kind: MailKind;
  tokenId: string | null;
  tokenExpiresAt: string | null;
  occurredAt: string;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type MailEventData = {
  tokenId?: unknown;
  expiresAt?: unknown;
  requestedAt?: unknown;
  at?: unknown;
};

const isoOrNull = (value: unknown): string | null =>
  typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;

/** The mails that take a one-time token from their event: the row keeps its id to rebuild the link. */
const WITH_TOKEN: ReadonlySet<MailKind> = new Set<MailKind>(['verification', 'reset', 'email-change']);

/**
 * The outbox rows an event asks for: one per mail kind its catalogue entry names. The first is keyed by the
 * event id; a second mail of the same event (the email change's notice to the old address) by
 * `<event id>/<kind>`, so a redelivered event still inserts nothing. Never throws: a recorded fact that
 * does not fit is skipped.
 */
export const outboxRowsOf = (event: RecordedEvent): OutboxRow[] => {
  const asked = catalogEntry(event.type)?.mail;
  if (asked === undefined || !event.streamId.startsWith(USER_STREAM_PREFIX)) return [];
  const userId = event.streamId.slice(USER_STREAM_PREFIX.length);
  if (!UUID.test(userId)) return [];
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as MailEventData;
  const kinds: readonly MailKind[] = typeof asked === 'string' ? [asked] : asked;
  const occurredAt =
    isoOrNull(data.requestedAt) ??
    isoOrNull(data.at) ??
    isoOrNull(event.metadata.occurred_at) ??
    event.createdAt.toISOString();
  const rows: OutboxRow[] = [];
  kinds.forEach((kind, i) => {
    const withToken = WITH_TOKEN.has(kind);
    const tokenId =
      withToken && typeof data.tokenId === 'string' && UUID.test(data.tokenId) ? data.tokenId : null;
    if (withToken && tokenId === null) return;
    rows.push({
      eventId: i === 0 ? event.id : `${event.id}/${kind}`,
      userId,
      kind,
      tokenId,
      tokenExpiresAt: withToken ? isoOrNull(data.expiresAt) : null,
      occurredAt,
    });
  });
  return rows;
};

export const insertOutboxRows = async (tx: SqlExecutor, rows: OutboxRow[]): Promise<void> => {
  for (const row of rows) {
    await tx.query(
      `insert into mail_outbox (event_id, user_id, kind, token_id, token_expires_at, occurred_at)
       values ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)
       on conflict (event_id) do nothing`,
      [row.eventId, row.userId, row.kind, row.tokenId, row.tokenExpiresAt, row.occurredAt],
    );
  }
  if (rows.length > 0) await tx.query(`select pg_notify($1, '')`, [MAIL_OUTBOX_CHANNEL]);
};

export const mailConsumer = (): SubscriptionHandler => ({
  name: MAIL_CONSUMER_NAME,
  filter: { streamPrefixes: [USER_STREAM_PREFIX] },
  handle: async (events, tx) => {
    const rows = events.flatMap(outboxRowsOf);
    await insertOutboxRows(tx, rows);
  },
});

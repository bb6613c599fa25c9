import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../application/event-store';
import { MAIL_OUTBOX_CHANNEL } from './outbox-consumer';
import { MailDeliveryError, type Mailer } from '../../application/mail/ports';
import { composeMail } from './compose';
import type { Clock, EmailKeys, OneTimeTokens, PersonalDataVault } from '../../application/ports';
import type { SqlClient } from '../../application/sql';
import type { Templates } from '../../application/templates';

type SenderLogger = {
  debug: (obj: object, msg: string) => void;
  info: (obj: object, msg: string) => void;
  warn: (obj: object, msg: string) => void;
};

export type OutboxSenderDeps = {
  sql: SqlClient;
  store: EventStore;
  vault: PersonalDataVault;
  oneTimeTokens: OneTimeTokens;
  emailKeys: EmailKeys;
  mailer: Mailer;
  clock: Clock;
  logger: SenderLogger;
  templates: Templates;
  /** EMAIL_LINK_BASE_URL (default PUBLIC_URL). */
  linkBaseUrl: string;
};

export type OutboxSenderOptions = {
  /** Rows claimed per round. */
  batchSize?: number;
  /** How often pending rows are looked for besides the consumer's notification (retries come due so). */
  pollMs?: number;
  /** How long a claimed row is this sender's; longer than any SMTP exchange (their timeouts are ~30 s). */
  leaseSeconds?: number;
  /** Retry delay after a failed send: doubles from min to max. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A notice older than this when it could first be sent is dropped rather than sent late. */
  staleAfterMs?: number;
  /**
   * No other sender can exist (the embedded store admits one process): a lease found at start was left by
   * a process that died, so its rows go out now rather than when the lease runs out.
   */
  soleSender?: boolean;
};

type ClaimedRow = {
  event_id: string;
  user_id: string;
  kind: string;
  token_id: string | null;
  token_expires_at: Date | null;
  occurred_at: Date;
  attempts: number;
};

type Outcome = { sent: true } | { sent: false; drop: string };

/**
 * Delivers the mail outbox (see outbox-consumer.ts): claims, leases, retries and records the outcome; what
 * a row becomes (a message, or a reason to drop it) is compose.ts's to say, and the Mailer only transports. Every instance may run one:
 * a round claims due rows with `FOR UPDATE SKIP LOCKED` and a lease, so two senders never hold the same
 * row; a sender that dies mid-send leaves a lease that runs out, and the row goes out again (at least
 * once: SMTP offers nothing stronger). A failed send is retried with a doubling delay; a permanent refusal,
 * an erased account or an expired token drops the row with the reason. Nothing here waits on a request.
 */
export class OutboxSender {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly leaseSeconds: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly staleAfterMs: number;
  private readonly soleSender: boolean;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pendingWake = false;
  private unlisten: (() => Promise<void>) | null = null;

  constructor(
    private readonly deps: OutboxSenderDeps,
    options: OutboxSenderOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 20;
    this.pollMs = options.pollMs ?? 1000;
    this.leaseSeconds = options.leaseSeconds ?? 120;
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.staleAfterMs = options.staleAfterMs ?? 24 * 3600_000;
    this.soleSender = options.soleSender ?? false;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.notify();
    await this.loop;
    const unlisten = this.unlisten;
    this.unlisten = null;
    await unlisten?.().catch(() => undefined);
  }

  /** One round: claims due rows and sends them. Returns how many rows it claimed. */
  async drainOnce(): Promise<number> {
    const leaseId = randomUUID();
    const { rows } = await this.deps.sql.query<ClaimedRow>(
      `with due as (
         select event_id from mail_outbox
          where sent_at is null and dropped_at is null and next_attempt_at <= now()
            and (lease_until is null or lease_until < now())
          order by next_attempt_at, created_at
          limit $1
          for update skip locked
       )
       update mail_outbox m
          set lease_id = $2, lease_until = now() + make_interval(secs => $3), attempts = m.attempts + 1
         from due
        where m.event_id = due.event_id
       returning m.event_id, m.user_id::text as user_id, m.kind, m.token_id::text as token_id,
                 m.token_expires_at, m.occurred_at, m.attempts`,
      [this.batchSize, leaseId, this.leaseSeconds],
    );
    for (const row of rows) {
      if (this.abort.signal.aborted) break;
      await this.deliver(row, leaseId);
    }
    return rows.length;
  }

  private notify(): void {
    this.pendingWake = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    try {
      this.unlisten = await this.deps.sql.listen(MAIL_OUTBOX_CHANNEL, () => this.notify());
    } catch (e) {
      // Polling alone still delivers, a little later.
      this.deps.logger.warn({ err: errorText(e) }, 'mail outbox: cannot listen for new rows; polling');
    }
    if (this.soleSender) {
      await this.deps.sql
        .query(
          `update mail_outbox set lease_id = null, lease_until = null
            where lease_id is not null and sent_at is null and dropped_at is null`,
        )
        .catch((e: unknown) =>
          this.deps.logger.warn({ err: errorText(e) }, 'mail outbox: cannot release leftover leases'),
        );
    }
    let failures = 0;
    while (!signal.aborted) {
      this.pendingWake = false;
      let claimed = 0;
      try {
        claimed = await this.drainOnce();
        failures = 0;
      } catch (e) {
        failures += 1;
        this.deps.logger.warn({ err: errorText(e) }, 'mail outbox: round failed; retrying');
      }
      if (claimed >= this.batchSize && failures === 0) continue;
      const wait = failures > 0 ? this.backoffMs(failures) : this.pollMs;
      await this.sleep(wait);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.pendingWake || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private backoffMs(attempts: number): number {
    return Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(attempts - 1, 20));
  }

  private async deliver(row: ClaimedRow, leaseId: string): Promise<void> {
    const { sql, logger } = this.deps;
    const log = { event_id: row.event_id, kind: row.kind, attempt: row.attempts };
    let outcome: Outcome;
    try {
      outcome = await this.send(row);
    } catch (e) {
      const permanent = e instanceof MailDeliveryError && e.permanent;
      if (permanent) {
        outcome = { sent: false, drop: 'undeliverable' };
      } else {
        const delay = this.backoffMs(row.attempts);
        await sql.query(
          `update mail_outbox
              set next_attempt_at = now() + make_interval(secs => $3), lease_id = null, lease_until = null,
                  last_error = $4
            where event_id = $1 and lease_id = $2`,
          [row.event_id, leaseId, delay / 1000, errorText(e)],
        );
        logger.warn({ ...log, err: errorText(e), retry_in_ms: delay }, 'mail not sent; will retry');
        return;
      }
    }
    if (outcome.sent) {
      await sql.query(
        `update mail_outbox set sent_at = now(), lease_id = null, lease_until = null, last_error = null
          where event_id = $1 and lease_id = $2`,
        [row.event_id, leaseId],
      );
      logger.info(log, 'mail sent');
    } else {
      await sql.query(
        `update mail_outbox set dropped_at = now(), drop_reason = $3, lease_id = null, lease_until = null
          where event_id = $1 and lease_id = $2`,
        [row.event_id, leaseId, outcome.drop],
      );
      logger.info({ ...log, reason: outcome.drop }, 'mail dropped');
    }
  }

  /** Composes the message from the account as it is now (compose.ts) and hands it to the transport. */
  private async send(row: ClaimedRow): Promise<Outcome> {
    const composed = await composeMail(
      { ...this.deps, staleAfterMs: this.staleAfterMs },
      {
        userId: row.user_id,
        kind: row.kind,
        tokenId: row.token_id,
        tokenExpiresAt: row.token_expires_at,
        occurredAt: row.occurred_at,
      },
      this.deps.clock.now(),
    );
    if ('drop' in composed) return { sent: false, drop: composed.drop };
    await this.deps.mailer.send(composed.message);
    return { sent: true };
  }
}

/** Error text for logs and the row: our adapters' messages name no address and no token. */
const errorText = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 500) : 'unknown error';

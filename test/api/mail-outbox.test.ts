import { eraseUser } from '../../src/application/user/erase';
import { mailConsumer } from '../../src/consumers/mail/outbox-consumer';
import type { Mailer, MailMessage } from '../../src/application/mail/ports';
import { userStreamId } from '../../src/domain/user';
import { OutboxSender } from '../../src/consumers/mail/outbox-sender';
import { useTestApp } from '../support/app';
import { nextMail, tokenIn, userIdOfToken } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, testClock, uniqueEmail } from '../support/session-fixtures';

type Row = {
  event_id: string;
  kind: string;
  attempts: number;
  sent_at: Date | null;
  drop_reason: string | null;
};

for (const backend of testBackends()) {
  describe(`the mail outbox (${backend.name})`, () => {
    const clock = testClock();
    const t = useTestApp(backend, { clock });

    const rowsOf = async (userId: string) =>
      (
        await t.services.sql.query<Row>(
          `select event_id, kind, attempts, sent_at, drop_reason from mail_outbox where user_id = $1
            order by created_at`,
          [userId],
        )
      ).rows;

    /** The consumer has seen every event written so far. */
    const consumed = async () => {
      const [last] = (await t.services.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
      expect(await t.runtime.runner('mail-outbox')?.waitFor(last?.position ?? '', 5000)).toBe(true);
    };

    /** Makes every waiting row due now, as if its backoff had passed. */
    /**
     * The row's first settled state. The service's own sender runs beside the test's `drainOnce` and may be
     * the one that claimed the row, so the outcome is awaited rather than read once.
     */
    const settled = async (userId: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [row] = await rowsOf(userId);
        if (row?.sent_at !== null || row?.drop_reason !== null || Date.now() > deadline) return row;
        await t.runtime.outbox.drainOnce();
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    /**
     * Until a first attempt at the user's mail has failed and no sender holds the row: a send still in
     * flight (the service's own sender may have claimed it) would otherwise race the test's next step.
     */
    const firstAttemptFailed = async (userId: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [row] = (
          await t.services.sql.query<{ attempts: number; lease_id: string | null }>(
            'select attempts, lease_id from mail_outbox where user_id = $1',
            [userId],
          )
        ).rows;
        if (row && row.attempts >= 1 && row.lease_id === null) return;
        if (Date.now() > deadline) throw new Error(`no failed first attempt: ${JSON.stringify(row)}`);
        await t.runtime.outbox.drainOnce();
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    const dueNow = () =>
      t.services.sql.query("update mail_outbox set next_attempt_at = now() - interval '1 second'");

    const registerQuietly = async (email: string) => {
      const res = await postJson(t, '/v1/auth/register', { email, password: 'evening-tide-lighthouse-3' });
      expect(res.status).toBe(202);
      await consumed();
      const [row] = (
        await t.services.sql.query<{ user_id: string }>(
          `select user_id::text as user_id from mail_outbox order by created_at desc limit 1`,
        )
      ).rows;
      return row?.user_id as string;
    };

    it('answers at once while the mail server is down, and sends each mail once when it is back', async () => {
      t.mail.failWith = new Error('connect ECONNREFUSED');
      try {
        const email = uniqueEmail('down');
        const started = Date.now();
        const res = await postJson(t, '/v1/auth/register', { email, password: 'evening-tide-lighthouse-3' });
        expect(res.status).toBe(202);
        expect(Date.now() - started).toBeLessThan(3000);
        await consumed();
        await t.runtime.outbox.drainOnce();
        const userId = (
          await t.services.sql.query<{ user_id: string }>(
            `select user_id::text as user_id from mail_outbox order by created_at desc limit 1`,
          )
        ).rows[0]?.user_id as string;
        // The service's own sender may hold the row's lease; its failed attempt is recorded when it returns.
        let [waiting] = await rowsOf(userId);
        for (const deadline = Date.now() + 10_000; !waiting?.attempts && Date.now() < deadline;) {
          await new Promise((r) => setTimeout(r, 50));
          [waiting] = await rowsOf(userId);
        }
        expect(waiting).toMatchObject({ kind: 'verification', sent_at: null, drop_reason: null });
        expect(waiting?.attempts).toBeGreaterThan(0);
        expect(t.mail.to(email)).toEqual([]);
        t.mail.failWith = null;
        await dueNow();
        const mail = await nextMail(t, email, 'verification', 0, 15_000);
        expect(userIdOfToken(tokenIn(mail))).toBe(userId);
        await dueNow();
        await t.runtime.outbox.drainOnce();
        expect(t.mail.to(email)).toHaveLength(1);
        expect((await rowsOf(userId))[0]?.sent_at).not.toBeNull();
      } finally {
        t.mail.failWith = null;
      }
    });

    it('keeps neither the address nor the token in the outbox, and a redelivered event adds no row', async () => {
      const email = uniqueEmail('row');
      const res = await postJson(t, '/v1/auth/register', { email, password: 'evening-tide-lighthouse-3' });
      expect(res.status).toBe(202);
      const token = tokenIn(await nextMail(t, email, 'verification'));
      const userId = userIdOfToken(token);
      const all = await t.services.sql.query(`select * from mail_outbox where user_id = $1`, [userId]);
      const text = JSON.stringify(all.rows);
      expect(text).not.toContain(email);
      expect(text).not.toContain(token);
      expect(all.rows).toHaveLength(1);
      const events = await t.services.store.readStream(userStreamId(userId));
      const consumer = mailConsumer();
      await t.services.sql.transaction((tx) => consumer.handle(events, tx));
      await t.services.sql.transaction((tx) => consumer.handle(events, tx));
      expect(await rowsOf(userId)).toHaveLength(1);
    });

    it('drops the mail of an erased account instead of sending it', async () => {
      t.mail.failWith = new Error('down');
      try {
        const email = uniqueEmail('erased');
        const userId = await registerQuietly(email);
        await firstAttemptFailed(userId);
        const now = clock.now();
        await eraseUser(t.services, userId, {
          correlationId: 'c',
          causationId: 'c',
          actor: { type: 'admin', id: null },
          reason: 'test',
          now,
        });
        t.mail.failWith = null;
        await dueNow();
        await t.runtime.outbox.drainOnce();
        expect(await settled(userId)).toMatchObject({ sent_at: null, drop_reason: 'erased' });
        expect(t.mail.to(email)).toEqual([]);
      } finally {
        t.mail.failWith = null;
      }
    });

    it('drops a verification mail whose token expired before it could be sent', async () => {
      t.mail.failWith = new Error('down');
      try {
        const email = uniqueEmail('late');
        const userId = await registerQuietly(email);
        await firstAttemptFailed(userId);
        clock.advance(24 * 3600_000 + 1000);
        t.mail.failWith = null;
        await dueNow();
        await t.runtime.outbox.drainOnce();
        expect(await settled(userId)).toMatchObject({ sent_at: null, drop_reason: 'token-expired' });
        expect(t.mail.to(email)).toEqual([]);
      } finally {
        t.mail.failWith = null;
      }
    });

    it('never lets two senders send the same row', async () => {
      // This test takes the outbox over: the service's own sender stops.
      await t.runtime.outbox.stop();
      const sent: MailMessage[] = [];
      const slow: Mailer = {
        send: async (m) => {
          await new Promise((r) => setTimeout(r, 5));
          sent.push(m);
        },
      };
      const senders = [1, 2, 3].map(
        () =>
          new OutboxSender(
            { ...t.services, mailer: slow, linkBaseUrl: t.config.emailLinkBaseUrl },
            { batchSize: 2 },
          ),
      );
      const emails = Array.from({ length: 8 }, () => uniqueEmail('pair'));
      for (const email of emails) await registerQuietly(email);
      for (;;) {
        const claimed = await Promise.all(senders.map((s) => s.drainOnce()));
        if (claimed.every((n) => n === 0)) break;
      }
      for (const email of emails) expect(sent.filter((m) => m.to === email)).toHaveLength(1);
    });
  });
}

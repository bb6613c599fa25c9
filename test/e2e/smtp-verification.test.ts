import { SMTPServer } from 'smtp-server';
import { OutboxSender } from '../../src/consumers/mail/outbox-sender';
import { SmtpMailer } from '../../src/infrastructure/mail/smtp-mailer';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { postJson, uniqueEmail } from '../support/session-fixtures';
import { findPart, parseMime } from '../unit/mail/mime';

type Received = { to: string[]; raw: string };

/**
 * Registration to sign-in through a real SMTP exchange: the service's mail consumer and outbox sender
 * deliver through the SMTP adapter to an in-process server, and the test clicks the link it finds in the
 * delivered MIME message, as a person would.
 */
for (const backend of testBackends()) {
  describe(`verification mail over SMTP (${backend.name})`, () => {
    const received: Received[] = [];
    let server: SMTPServer;
    let t: TestApp;
    let sender: OutboxSender;
    let mailer: SmtpMailer;

    beforeAll(async () => {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            received.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks).toString('utf8'),
            });
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.server.address() as { port: number }).port;
      t = await startTestApp(backend, { runSubscriptions: false });
      for (const runner of t.runtime.runners) runner.start();
      mailer = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'Identity <no-reply@identity.test>' });
      sender = new OutboxSender(
        { ...t.services, mailer, linkBaseUrl: t.config.emailLinkBaseUrl },
        { pollMs: 100 },
      );
      sender.start();
    });

    afterAll(async () => {
      await sender.stop();
      mailer.close();
      await t.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const waitForMessage = async (to: string, timeoutMs = 15_000): Promise<Received> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find((m) => m.to.includes(to));
        if (found) return found;
        if (Date.now() > deadline) throw new Error('no SMTP message arrived');
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    it('delivers the verification link to the stored address; the link verifies and sign-in works', async () => {
      const canonical = uniqueEmail('smtp');
      const typed = canonical.replace(/^(\w)/, (c) => c.toUpperCase()).replace('example.com', 'EXAMPLE.com');
      const password = 'saffron-glacier-window-66';
      expect((await postJson(t, '/v1/auth/register', { email: typed, password })).status).toBe(202);

      const message = await waitForMessage(canonical);
      expect(message.to).toEqual([canonical]);
      const mime = parseMime(message.raw);
      expect(mime.headers['subject']).toMatch(/verify your email/i);
      const text = findPart(mime, 'text/plain')?.body ?? '';
      const link = /http:\/\/identity\.test\/verify-email\?token=([\w-]+)/.exec(text);
      expect(link).not.toBeNull();
      expect(findPart(mime, 'text/html')?.body).toContain(`href="${link?.[0]}"`);

      const denied = await postJson(t, '/v1/auth/login', { email: canonical, password });
      expect(denied.status).toBe(403);
      const verified = await postJson(t, '/v1/auth/verify-email', { token: link?.[1] });
      expect(verified.status).toBe(200);
      expect(await verified.json()).toEqual({ email_verified: true });
      expect((await postJson(t, '/v1/auth/login', { email: typed, password })).status).toBe(200);
      expect(received.filter((m) => m.to.includes(canonical))).toHaveLength(1);
    });
  });
}

import { SMTPServer } from 'smtp-server';
import { MailDeliveryError } from '../../../src/application/mail/ports';
import { verificationEmail } from '../../../src/consumers/mail/templates';
import { SmtpMailer } from '../../../src/infrastructure/mail/smtp-mailer';
import { findPart, parseMime } from './mime';
import { loadTemplates } from '../../../src/infrastructure/templates/engine';

const templates = loadTemplates({ product: 'Identity' });

type Received = { from: string; to: string[]; raw: string };

describe('SmtpMailer', () => {
  const received: Received[] = [];
  let server: SMTPServer;
  let port: number;

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('nobody@')) {
          callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
          return;
        }
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('delivers the message, and the link read back from the mail is the verification link', async () => {
    const info = jest.fn();
    const mailer = new SmtpMailer({
      url: `smtp://127.0.0.1:${port}`,
      from: 'Identity <no-reply@identity.test>',
      logger: { info },
    });
    const token = 'AAECAwQFBgcICQoLDA0ODw-Zx_7uL0TDpVhH8pYw3nJ9rQkWm1sE2cB4aF6dG8xyz0123456789';
    await mailer.send(
      verificationEmail(
        { linkBaseUrl: 'https://id.example.com', templates },
        { to: 'ada@example.com', token },
      ),
    );
    mailer.close();

    const message = received.at(-1);
    expect(message?.from).toBe('no-reply@identity.test');
    expect(message?.to).toEqual(['ada@example.com']);
    const mime = parseMime(message?.raw ?? '');
    expect(mime.headers['subject']).toMatch(/verify your email/i);
    expect(mime.headers['x-identity-mail-kind']).toBe('verification');
    const text = findPart(mime, 'text/plain')?.body ?? '';
    const html = findPart(mime, 'text/html')?.body ?? '';
    const link = /https:\/\/\S+\/verify-email\?token=[\w-]+/.exec(text)?.[0];
    expect(link).toBe(`https://id.example.com/verify-email?token=${token}`);
    expect(html).toContain(`href="${link}"`);
    expect(JSON.stringify(info.mock.calls)).not.toContain('ada@example.com');
    expect(JSON.stringify(info.mock.calls)).not.toContain(token);
  });

  it('rejects with a permanent MailDeliveryError that names no address when the server refuses the recipient', async () => {
    const mailer = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'no-reply@identity.test' });
    const sending = mailer.send(
      verificationEmail(
        { linkBaseUrl: 'https://id.example.com', templates },
        { to: 'nobody@example.com', token: 't' },
      ),
    );
    await expect(sending).rejects.toBeInstanceOf(MailDeliveryError);
    await expect(sending).rejects.toMatchObject({ permanent: true, responseCode: 550 });
    await expect(sending).rejects.toHaveProperty('message', expect.not.stringContaining('nobody'));
    mailer.close();
  });

  it('rejects with a transient MailDeliveryError when the server cannot be reached, so the consumer retries', async () => {
    const closed = new SMTPServer({ logger: false });
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.server.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const mailer = new SmtpMailer({
      url: `smtp://127.0.0.1:${closedPort}`,
      from: 'no-reply@identity.test',
      timeoutsMs: { connection: 2000 },
    });
    const sending = mailer.send(
      verificationEmail(
        { linkBaseUrl: 'https://id.example.com', templates },
        { to: 'ada@example.com', token: 't' },
      ),
    );
    await expect(sending).rejects.toMatchObject({ name: 'MailDeliveryError', permanent: false });
    mailer.close();
  });
});

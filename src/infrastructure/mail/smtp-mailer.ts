import { createTransport } from 'nodemailer';
import { MailDeliveryError, type Mailer, type MailMessage } from '../../application/mail/ports';
import { maskAddress } from './mask';

type MailLogger = { info: (obj: object, msg: string) => void };

export type SmtpMailerOptions = {
  /** SMTP_URL: `smtp://` (STARTTLS when offered) or `smtps://` (TLS), credentials in the userinfo. */
  url: string;
  /** MAIL_FROM. */
  from: string;
  logger?: MailLogger;
  /** Bounds on each wait, so a hung mail server holds the mail consumer for seconds, not minutes. */
  timeoutsMs?: { connection?: number; greeting?: number; socket?: number };
};

type NodemailerFailure = { code?: string; responseCode?: number; permanent?: boolean };

/**
 * Delivers through an SMTP server. A failure rejects `send` (as a MailDeliveryError) so the mail consumer
 * keeps its checkpoint and retries; nothing is swallowed. One connection per message: account mail is rare,
 * and a pool would only add idle connections for the server to drop.
 */
export class SmtpMailer implements Mailer {
  private readonly transport;

  constructor(private readonly options: SmtpMailerOptions) {
    this.transport = createTransport(
      {
        url: options.url,
        connectionTimeout: options.timeoutsMs?.connection ?? 10_000,
        greetingTimeout: options.timeoutsMs?.greeting ?? 10_000,
        socketTimeout: options.timeoutsMs?.socket ?? 30_000,
      },
      { from: options.from },
    );
  }

  async send(message: MailMessage): Promise<void> {
    try {
      await this.transport.sendMail({
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: { 'X-Identity-Mail-Kind': message.kind },
      });
    } catch (e) {
      // Library messages quote the server's reply, which often repeats the recipient address: never pass
      // them on to a log line.
      const failure = (typeof e === 'object' && e !== null ? e : {}) as NodemailerFailure;
      // A rejected login is the operator's to fix; the message itself would go through afterwards.
      const permanent = failure.permanent === true && failure.code !== 'EAUTH';
      throw new MailDeliveryError(
        `SMTP delivery of a ${message.kind} mail failed (${failure.code ?? 'error'}${failure.responseCode ? ` ${failure.responseCode}` : ''})`,
        permanent,
        failure.responseCode,
      );
    }
    this.options.logger?.info({ kind: message.kind, to: maskAddress(message.to) }, 'mail sent');
  }

  /** Checks that the server accepts a connection (and the credentials), for readiness probes. */
  async verify(): Promise<void> {
    await this.transport.verify();
  }

  close(): void {
    this.transport.close();
  }
}

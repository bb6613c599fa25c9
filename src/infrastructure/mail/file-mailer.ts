import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { createTransport } from 'nodemailer';
import type { Mailer, MailMessage } from '../../application/mail/ports';
import { maskAddress } from './mask';

type MailLogger = { info: (obj: object, msg: string) => void };

export type FileMailerOptions = {
  /** DATA_DIR; messages go to `<dataDir>/mail/`. */
  dataDir: string;
  from: string;
  logger: MailLogger;
  now?: () => Date;
};

/**
 * The mailer when no SMTP_URL is set: each message becomes an RFC 5322 `.eml` file, so a developer running
 * `npm start` can open the verification link without a mail server. The log line names the file and a
 * masked recipient only; the link stays in the file, since a token in a log outlives its purpose.
 *
 * Files appear atomically (written under a temporary name, flushed, then renamed), so a reader watching the
 * directory never sees half a message. Names start with the UTC time, so `ls` lists them in order.
 * The directory and files are private to the service's user: they hold live tokens.
 */
export class FileMailer implements Mailer {
  readonly directory: string;
  private readonly composer = createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  private readonly now: () => Date;
  private sequence = 0;

  constructor(private readonly options: FileMailerOptions) {
    this.directory = path.join(options.dataDir, 'mail');
    this.now = options.now ?? (() => new Date());
  }

  async send(message: MailMessage): Promise<void> {
    const info = await this.composer.sendMail({
      from: this.options.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      headers: { 'X-Identity-Mail-Kind': message.kind },
    });
    const raw = info.message;
    if (!Buffer.isBuffer(raw)) throw new Error('the message composer did not return a buffer');
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const file = path.join(this.directory, this.fileName(message.kind));
    // The .eml is the message as SMTP would carry it (quoted-printable, so its links wrap); the .txt beside
    // it is the plain-text part as a person reads it, so `cat` shows a link that can be copied whole.
    const readable = `To: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`;
    await writeAtomically(file.replace(/\.eml$/, '.txt'), Buffer.from(readable, 'utf8'));
    await writeAtomically(file, raw);
    this.options.logger.info(
      { kind: message.kind, to: maskAddress(message.to), file },
      'mail written to a file (SMTP_URL is not set); its link is in the .txt beside it',
    );
  }

  private fileName(kind: string): string {
    this.sequence = (this.sequence + 1) % 1_000_000;
    const stamp = this.now().toISOString().replace(/[-:]/g, '').replace('.', '-');
    const safeKind = kind.replace(/[^a-z0-9-]/gi, '_').slice(0, 40);
    return `${stamp}-${String(this.sequence).padStart(6, '0')}-${safeKind}-${randomBytes(3).toString('hex')}.eml`;
  }
}

/** Written to a temporary name and renamed, so a reader never sees half a message. */
const writeAtomically = async (file: string, content: Buffer): Promise<void> => {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
};

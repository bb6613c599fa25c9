/**
 * The mail a service without SMTP_URL wrote as `.eml` files under DATA_DIR/mail (file-mailer.ts): what a
 * developer opens to follow a link, and what a test reads to learn a verification or reset token.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { findPart, parseMime } from '../unit/mail/mime';

export type FileMail = { file: string; to: string; kind: string; token: string | null };

const TOKEN = /[?&]token=([A-Za-z0-9_-]+)/;

export class Mailbox {
  private readonly seen = new Map<string, FileMail>();

  constructor(private readonly dataDir: string) {}

  /** Every message written so far, oldest first (file names start with the UTC time). */
  all(): FileMail[] {
    const dir = path.join(this.dataDir, 'mail');
    if (!existsSync(dir)) return [];
    // Messages appear by rename, so a listed `.eml` is always whole; `.tmp` files are not listed.
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.eml'))) {
      if (this.seen.has(file)) continue;
      const mime = parseMime(readFileSync(path.join(dir, file), 'utf8'));
      const text = findPart(mime, 'text/plain')?.body ?? mime.body;
      this.seen.set(file, {
        file,
        to: (mime.headers['to'] ?? '').replace(/^.*<([^>]+)>.*$/, '$1').toLowerCase(),
        kind: mime.headers['x-identity-mail-kind'] ?? '',
        token: TOKEN.exec(text)?.[1] ?? null,
      });
    }
    return [...this.seen.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  to(address: string, kind?: string): FileMail[] {
    return this.all().filter(
      (m) => m.to === address.toLowerCase() && (kind === undefined || m.kind === kind),
    );
  }

  /** Resolves with the messages of a kind to an address once there is one; null after `timeoutMs`. */
  async waitFor(address: string, kind: string, timeoutMs: number): Promise<FileMail[] | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.to(address, kind);
      if (found.length > 0) return found;
      if (Date.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

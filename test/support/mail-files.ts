import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The mails a service without SMTP_URL wrote under DATA_DIR/mail (infrastructure/mail/file-mailer.ts):
 * the `.txt` beside each `.eml` is its plain-text part, as a developer reads it after `npm start`.
 */
export const mailFiles = (dataDir: string, to: string, kind: string): string[] => {
  const dir = path.join(dataDir, 'mail');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.txt') && n.includes(`-${kind}-`))
    .sort()
    .map((n) => readFileSync(path.join(dir, n), 'utf8'))
    .filter((text) => text.startsWith(`To: ${to}\n`));
};

/** Waits for the `n`th mail of that kind to that address and answers the first link in it. */
export const linkFromMail = async (
  dataDir: string,
  to: string,
  kind: string,
  n = 1,
  timeoutMs = 20_000,
): Promise<string> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = mailFiles(dataDir, to, kind)[n - 1];
    const link = text?.match(/https?:\/\/\S+/)?.[0];
    if (link) return link;
    if (Date.now() > deadline) throw new Error(`no ${kind} mail to ${to} in ${dataDir}/mail`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { passwordResetEmail, verificationEmail } from '../../../src/consumers/mail/templates';
import { FileMailer } from '../../../src/infrastructure/mail/file-mailer';
import { maskAddress } from '../../../src/infrastructure/mail/mask';
import { findPart, parseMime } from './mime';
import { loadTemplates } from '../../../src/infrastructure/templates/engine';

describe('FileMailer', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'identity-mail-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const ctx = { linkBaseUrl: 'http://localhost:3000', templates: loadTemplates({ product: 'Identity' }) };
  const token = 'AAECAwQFBgcICQoLDA0ODw-Zx_7uL0TDpVhH8pYw3nJ9rQkWm1sE2cB4aF6dG8';

  it('writes a parseable RFC 5322 message under <dataDir>/mail and logs only the file and a masked address', async () => {
    const info = jest.fn();
    const mailer = new FileMailer({ dataDir, from: 'Identity <no-reply@identity.local>', logger: { info } });
    await mailer.send(verificationEmail(ctx, { to: 'ada.lovelace@example.com', token }));

    const files = (await readdir(path.join(dataDir, 'mail'))).sort();
    expect(files).toHaveLength(2);
    const file = path.join(dataDir, 'mail', files[0] as string);
    expect(file).toMatch(/\.eml$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Beside it, the plain text as a person reads it: the link whole, on one line.
    const readable = path.join(dataDir, 'mail', files[1] as string);
    expect(readable).toBe(file.replace(/\.eml$/, '.txt'));
    expect((await stat(readable)).mode & 0o777).toBe(0o600);
    expect((await readFile(readable, 'utf8')).split('\n')).toContain(
      `http://localhost:3000/verify-email?token=${token}`,
    );

    const raw = await readFile(file, 'utf8');
    expect(raw).toMatch(/\r\n\r\n/);
    const mime = parseMime(raw);
    expect(mime.headers['from']).toBe('Identity <no-reply@identity.local>');
    expect(mime.headers['to']).toBe('ada.lovelace@example.com');
    expect(mime.headers['subject']).toMatch(/verify your email/i);
    expect(mime.headers['mime-version']).toBe('1.0');
    expect(mime.headers['message-id']).toMatch(/^<.+@.+>$/);
    expect(Number.isNaN(Date.parse(mime.headers['date'] ?? ''))).toBe(false);
    expect(mime.headers['content-type']).toMatch(/^multipart\/alternative/);
    const text = findPart(mime, 'text/plain')?.body ?? '';
    expect(text).toContain(`http://localhost:3000/verify-email?token=${token}`);
    expect(findPart(mime, 'text/html')?.body).toContain('<!doctype html>');

    expect(info).toHaveBeenCalledTimes(1);
    const [fields] = info.mock.calls[0] as [Record<string, unknown>, string];
    expect(fields).toEqual({ kind: 'verification', to: maskAddress('ada.lovelace@example.com'), file });
    const logged = JSON.stringify(info.mock.calls);
    expect(logged).not.toContain(token);
    expect(logged).not.toContain('ada.lovelace');
  });

  it('names files so that they sort in the order they were written, and leaves no temporary file', async () => {
    let now = new Date('2030-01-01T00:00:09.900Z');
    const mailer = new FileMailer({
      dataDir,
      from: 'no-reply@identity.local',
      logger: { info: () => undefined },
      now: () => now,
    });
    await mailer.send(passwordResetEmail(ctx, { to: 'b@example.com', token: 'first' }));
    now = new Date('2030-01-01T00:00:10.100Z');
    await mailer.send(verificationEmail(ctx, { to: 'a@example.com', token: 'second' }));
    await mailer.send(verificationEmail(ctx, { to: 'a@example.com', token: 'third' }));

    const all = (await readdir(path.join(dataDir, 'mail'))).sort();
    expect(all).toHaveLength(6);
    const files = all.filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(3);
    const tokens = await Promise.all(
      files.map(
        async (f) =>
          /token=(\w+)/.exec(
            findPart(parseMime(await readFile(path.join(dataDir, 'mail', f), 'utf8')), 'text/plain')?.body ??
              '',
          )?.[1],
      ),
    );
    expect(tokens).toEqual(['first', 'second', 'third']);
    expect(files[0]).toMatch(/^20300101T000009-900Z-/);
  });
});

describe('maskAddress', () => {
  it('keeps the first letters and the top-level domain only', () => {
    expect(maskAddress('ada.lovelace@example.com')).toBe('a***@e***.com');
    expect(maskAddress('x@localhost')).toBe('x***@l***');
    expect(maskAddress('not-an-address')).toBe('***');
  });
});

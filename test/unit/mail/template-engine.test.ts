import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTemplates, TemplateError } from '../../../src/infrastructure/templates/engine';

describe('templates (TEMPLATES_DIR, PRODUCT_NAME)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'identity-templates-'));
    mkdirSync(path.join(dir, 'mail'));
    mkdirSync(path.join(dir, 'pages'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const verification = { to: 'ada@example.com', link: 'https://x/verify-email?token=t', validFor: '1 hour' };

  it('brands every mail and page with PRODUCT_NAME', () => {
    const t = loadTemplates({ product: 'Acme Cloud' });
    const mail = t.mail('verification', { ...verification, forgotPasswordLink: 'https://x/forgot-password' });
    expect(mail.subject).toBe('Acme Cloud: verify your email address');
    expect(mail.text).toContain('Acme Cloud');
    expect(mail.html).toContain('Acme Cloud');
    expect(t.page('forgot-password', {})).toContain('<title>Reset your password · Acme Cloud</title>');
  });

  it('takes a file from TEMPLATES_DIR over the shipped one, and the others as shipped', () => {
    writeFileSync(path.join(dir, 'mail', 'verification.subject.eta'), 'Welcome to <%= it.product %>!');
    const t = loadTemplates({ product: 'Acme', overridesDir: dir });
    const mail = t.mail('verification', { ...verification, forgotPasswordLink: 'https://x/forgot-password' });
    expect(mail.subject).toBe('Welcome to Acme!');
    expect(mail.text).toContain('https://x/verify-email?token=t');
  });

  it('escapes values in HTML templates, also in overrides', () => {
    writeFileSync(path.join(dir, 'pages', 'error.eta'), '<p><%= it.message %></p>');
    const t = loadTemplates({ product: 'Acme', overridesDir: dir });
    expect(t.page('error', { status: 400, message: '<script>x</script>' })).toBe(
      '<p>&lt;script&gt;x&lt;/script&gt;</p>',
    );
  });

  it('a template that does not compile stops the start with its file named', () => {
    const file = path.join(dir, 'pages', 'verify-email.eta');
    writeFileSync(file, '<% if (it.token { %>broken');
    expect(() => loadTemplates({ product: 'Acme', overridesDir: dir })).toThrow(TemplateError);
    expect(() => loadTemplates({ product: 'Acme', overridesDir: dir })).toThrow(file);
  });

  it('a template that fails with sample data (a member that does not exist) stops the start too', () => {
    const file = path.join(dir, 'mail', 'reset.html.eta');
    writeFileSync(file, '<p><%= it.account.name %></p>');
    expect(() => loadTemplates({ product: 'Acme', overridesDir: dir })).toThrow(file);
  });

  it('a file in TEMPLATES_DIR that names no template is refused (a misspelt override)', () => {
    const file = path.join(dir, 'mail', 'verfication.subject.eta');
    writeFileSync(file, 'x');
    expect(() => loadTemplates({ product: 'Acme', overridesDir: dir })).toThrow(file);
  });

  it('the subject is one line, whatever the template renders', () => {
    writeFileSync(path.join(dir, 'mail', 'reset.subject.eta'), 'Reset\r\nBcc: evil@example.com');
    const t = loadTemplates({ product: 'Acme', overridesDir: dir });
    const mail = t.mail('reset', { ...verification, forgotPasswordLink: 'https://x/forgot-password' });
    expect(mail.subject).toBe('Reset Bcc: evil@example.com');
  });
});

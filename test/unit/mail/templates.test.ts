import {
  buildLink,
  passwordChangedEmail,
  passwordResetEmail,
  passwordResetNoticeEmail,
  signupAttemptEmail,
  verificationEmail,
} from '../../../src/consumers/mail/templates';
import { loadTemplates } from '../../../src/infrastructure/templates/engine';

const templates = loadTemplates({ product: 'Identity' });

const ctx = { linkBaseUrl: 'https://id.example.com', templates };
const token = 'AAECAwQFBgcICQoLDA0ODw-Zx_7uL0TDpVhH8pYw3nJ9rQkWm1sE2cB4aF6dG8';
const urls = (text: string): string[] => text.match(/https?:\/\/[^\s"<]+/g) ?? [];

describe('mail templates', () => {
  it('verification: links to PUBLIC_URL/verify-email with the token, in both parts', () => {
    const mail = verificationEmail(ctx, { to: 'ada@example.com', token });
    const link = `https://id.example.com/verify-email?token=${token}`;
    expect(mail.kind).toBe('verification');
    expect(mail.subject).toMatch(/verify your email/i);
    expect(urls(mail.text)).toEqual([link]);
    expect(mail.html).toContain(`href="${link}"`);
  });

  it('reset: links to PUBLIC_URL/reset-password and says the link expires in 30 minutes', () => {
    const mail = passwordResetEmail(ctx, { to: 'ada@example.com', token });
    expect(mail.kind).toBe('reset');
    expect(urls(mail.text)).toEqual([`https://id.example.com/reset-password?token=${token}`]);
    expect(mail.text).toMatch(/30 minutes/);
    expect(mail.html).toMatch(/30 minutes/);
  });

  it('sign-up attempt: offers only the password-reset page, never a token', () => {
    const mail = signupAttemptEmail(ctx, { to: 'ada@example.com', at: new Date() });
    expect(mail.kind).toBe('signup-attempt');
    expect(mail.subject).toMatch(/tried to sign up/);
    expect(urls(mail.text)).toEqual(['https://id.example.com/forgot-password']);
    expect(mail.html).not.toMatch(/token=/);
  });

  it('password changed and password reset notices name the time and offer a reset', () => {
    const at = new Date('2030-05-06T07:08:09Z');
    for (const mail of [
      passwordChangedEmail(ctx, { to: 'ada@example.com', at }),
      passwordResetNoticeEmail(ctx, { to: 'ada@example.com', at }),
    ]) {
      expect(mail.text).toContain('2030-05-06 07:08 UTC');
      expect(urls(mail.text)).toEqual(['https://id.example.com/forgot-password']);
    }
    expect(passwordChangedEmail(ctx, { to: 'a@b.c', at }).kind).toBe('password-changed');
    expect(passwordResetNoticeEmail(ctx, { to: 'a@b.c', at }).kind).toBe('password-reset');
  });

  it('escapes every interpolated value in the HTML part', () => {
    const hostile = {
      linkBaseUrl: 'https://id.example.com',
      templates: loadTemplates({ product: '<script>alert(1)</script>' }),
    };
    const to = '"><img src=x onerror=alert(1)>@example.com';
    const mails = [
      verificationEmail(hostile, { to, token: 'a"b<c>' }),
      passwordResetEmail(hostile, { to, token: 't' }),
      signupAttemptEmail(hostile, { to, at: new Date() }),
      passwordChangedEmail(hostile, { to, at: new Date() }),
      passwordResetNoticeEmail(hostile, { to, at: new Date() }),
    ];
    for (const mail of mails) {
      expect(mail.html).not.toMatch(/<script|<img|onerror=alert\(1\)>/);
      expect(mail.html).toContain('&lt;script&gt;');
      expect(mail.html).toContain('&quot;&gt;&lt;img');
    }
  });

  it('escapes the link in the href attribute', () => {
    // `&` is legal unencoded in a URL path, and must still become `&amp;` inside HTML.
    const mail = verificationEmail(
      { linkBaseUrl: 'https://id.example.com/a&b', templates },
      { to: 'ada@example.com', token: 't' },
    );
    expect(mail.html).toContain('href="https://id.example.com/a&amp;b/verify-email?token=t"');
    expect(mail.html).not.toContain('a&b');
    expect(mail.text).toContain('https://id.example.com/a&b/verify-email?token=t');
  });

  it('builds links from the configured base only, keeping its path prefix and encoding the token', () => {
    expect(buildLink('https://example.com/auth/', 'verify-email', 'a+b/c=&d')).toBe(
      'https://example.com/auth/verify-email?token=a%2Bb%2Fc%3D%26d',
    );
    expect(buildLink('http://localhost:3000', 'reset-password', 'x')).toBe(
      'http://localhost:3000/reset-password?token=x',
    );
    expect(buildLink('https://example.com/?next=evil#frag', 'forgot-password')).toBe(
      'https://example.com/forgot-password',
    );
    expect(() => buildLink('javascript:alert(1)', 'verify-email', 'x')).toThrow();
  });
});

import type { MailData, MailTemplateName, PageData, PageName } from '../../application/templates';

/**
 * What each template is rendered with once at start (engine.ts): every member a real render can pass, so a
 * template that reads one that does not exist, or includes a template that does not exist, fails then.
 */
const base = {
  to: 'ada@example.com',
  forgotPasswordLink: 'https://id.example.com/forgot-password',
};

export const MAIL_SAMPLES: Record<MailTemplateName, Omit<MailData, 'product'>> = {
  verification: { ...base, link: 'https://id.example.com/verify-email?token=sample', validFor: '24 hours' },
  reset: { ...base, link: 'https://id.example.com/reset-password?token=sample', validFor: '30 minutes' },
  'signup-attempt': { ...base, at: '2030-01-01 00:00 UTC' },
  'password-changed': { ...base, at: '2030-01-01 00:00 UTC' },
  'password-reset': { ...base, at: '2030-01-01 00:00 UTC' },
  'email-change': {
    ...base,
    link: 'https://id.example.com/confirm-email?token=sample',
    validFor: '24 hours',
  },
  'email-change-taken': { ...base, at: '2030-01-01 00:00 UTC' },
  'email-change-notice': { ...base, at: '2030-01-01 00:00 UTC' },
};

const withErrors = (field: string): PageData => ({
  token: 'sample',
  errors: [{ field, message: 'is shorter than the minimum length' }],
});

export const PAGE_SAMPLES: Record<PageName, PageData[]> = {
  'verify-email': [{ token: 'sample' }],
  'verify-email-done': [{ continueUrl: null }, { continueUrl: 'https://app.example.com/' }],
  'resend-verification': [{}, withErrors('email')],
  'resend-verification-sent': [{}],
  'reset-password': [{ token: 'sample' }, withErrors('new_password')],
  'reset-password-done': [{ continueUrl: null }, { continueUrl: 'https://app.example.com/' }],
  'forgot-password': [{}, withErrors('email')],
  'forgot-password-sent': [{}],
  'confirm-email': [{ token: 'sample' }],
  'confirm-email-done': [{ continueUrl: null }, { continueUrl: 'https://app.example.com/' }],
  'link-invalid': [{ purpose: 'verify-email' }, { purpose: 'reset-password' }, { purpose: 'confirm-email' }],
  error: [{ status: 404, message: 'There is no page at this address.' }],
};

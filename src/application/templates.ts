import type { MailKind } from '../catalog';

/**
 * The texts a person reads: every email (subject, plain text, HTML) and every hosted page, rendered from
 * templates an operator can replace (TEMPLATES_DIR) and brand (PRODUCT_NAME). The port; the templates are
 * compiled once at start by infrastructure/templates, and a template that does not compile or does not
 * render with sample data stops the process there, naming its file.
 *
 * Values are passed as data and escaped by the engine in HTML (auto-escaping is on); a template never
 * builds a link itself: every link arrives whole, built from configuration (EMAIL_LINK_BASE_URL, APP_URL),
 * never from a request header.
 */

/**
 * The mail templates: one per kind of mail, and `email-change-taken`, what the `email-change` mail
 * becomes when the new address already belongs to an account (its owner learns someone tried; no link).
 */
export type MailTemplateName = MailKind | 'email-change-taken';

/** What every mail template gets. */
export type MailData = {
  /** PRODUCT_NAME. */
  product: string;
  /** The recipient, as stored on the account. */
  to: string;
  /** The action link (verification, reset, confirmation, set-password), with its token. */
  link?: string;
  /** How long the link works, in words ("24 hours", "30 minutes"). */
  validFor?: string;
  /** When the noticed change happened, as `YYYY-MM-DD HH:MM UTC`. */
  at?: string;
  /** The hosted forgot-password page, offered in every notice. */
  forgotPasswordLink: string;
  /** The new address in an email-change notice to the old one. */
  newEmail?: string;
};

export type RenderedMail = { subject: string; text: string; html: string };

/** The hosted pages, each a template of its own (templates/pages/<name>.eta). */
export const PAGE_NAMES = [
  'verify-email',
  'verify-email-done',
  'resend-verification',
  'resend-verification-sent',
  'reset-password',
  'reset-password-done',
  'forgot-password',
  'forgot-password-sent',
  'confirm-email',
  'confirm-email-done',
  'link-invalid',
  'error',
] as const;

export type PageName = (typeof PAGE_NAMES)[number];

/** A form field's error, tied to its input with aria-describedby. */
export type FieldError = { field: string; message: string };

export type PageData = {
  /** The page's own title (the layout adds the product name). */
  title?: string;
  /** The hidden form value that carries the link's token back on POST. */
  token?: string;
  /** Where the "continue" link goes: APP_URL, or null when none is configured. */
  continueUrl?: string | null;
  errors?: FieldError[];
  /** Which link failed, on `link-invalid`: offers the matching way to a new one. */
  purpose?: 'verify-email' | 'reset-password' | 'confirm-email';
  /** On `error`: the status and a sentence. */
  status?: number;
  message?: string;
};

export interface Templates {
  readonly product: string;
  mail(name: MailTemplateName, data: Omit<MailData, 'product'>): RenderedMail;
  page(name: PageName, data: PageData): string;
  /** The pages' stylesheet (templates/pages/style.css), served by the service itself. */
  readonly stylesheet: string;
}

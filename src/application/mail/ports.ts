/**
 * The mail port. Messages are built from templates (./templates.ts) by the mail consumer, which runs off the
 * event stream with its own checkpoint; `send` rejecting makes the consumer retry the event, so an adapter
 * must let delivery errors propagate rather than swallow them.
 */

import type { MailKind } from '../../catalog';

/** Declared with the event that asks for each (src/catalog). */
export type { MailKind };

export type MailMessage = {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** What the mail is about; throttling, metrics and logs use it, never the body. */
  kind: MailKind | (string & {});
};

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/**
 * A failed delivery. `permanent` is true when the mail server refused this message for good (RFC 5321 5yz
 * reply to the recipient or the content): retrying the same message cannot succeed, and the consumer may
 * record it as undeliverable instead of retrying forever. Its message names no address and no content.
 */
export class MailDeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = 'MailDeliveryError';
  }
}

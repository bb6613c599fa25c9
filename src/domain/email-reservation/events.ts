import type { DomainEvent, Timestamp } from '../shared/decider';

export const EMAIL_RESERVATION_STREAM_PREFIX = 'email-';

/**
 * `addressHmac`: hex HMAC-SHA256 of the canonical address under the reservation key, so the stream id holds
 * no personal data (docs/design.md, "Email uniqueness").
 */
export const emailReservationStreamId = (addressHmac: string): string =>
  `${EMAIL_RESERVATION_STREAM_PREFIX}${addressHmac}`;

export type EmailReserved = DomainEvent<'EmailReserved', { userId: string; at: Timestamp }>;

export type EmailReleased = DomainEvent<'EmailReleased', { userId: string }>;

export type EmailReservationEvent = EmailReserved | EmailReleased;

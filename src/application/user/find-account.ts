import { canonicalEmail } from '../canonical-email';
import { loadStream, type LoadedStream } from '../write/handle';
import type { EventStore } from '../event-store';
import type { EmailKeys } from '../ports';
import {
  emailReservationDecider,
  emailReservationStreamId,
  type EmailReservationState,
} from '../../domain/email-reservation';
import { userDecider, userStreamId, type UserState } from '../../domain/user';

export type AccountLookup = {
  canonical: string;
  reservationStreamId: string;
  reservation: LoadedStream<EmailReservationState>;
  /** The owner's folded user stream; null when the address is free or its owner's stream does not exist. */
  user: (LoadedStream<UserState> & { userId: string }) | null;
};

/**
 * Finds the account of an address on the WRITE side, through its `email-<hmac>` reservation stream
 * (docs/design.md, "Email uniqueness"), never through a projection that may lag. Returns null for a string
 * that is not an address (no lookup happens, so nothing can be learned from timing either).
 */
export const findAccountByEmail = async (
  deps: { store: EventStore; emailKeys: EmailKeys },
  email: string,
): Promise<AccountLookup | null> => {
  const canonical = canonicalEmail(email);
  if (canonical === null) return null;
  const reservationStreamId = emailReservationStreamId(deps.emailKeys.reservationKey(canonical));
  const reservation = await loadStream(deps.store, emailReservationDecider, reservationStreamId);
  if (reservation.state.status !== 'reserved')
    return { canonical, reservationStreamId, reservation, user: null };
  const userId = reservation.state.ownerUserId;
  const user = await loadStream(deps.store, userDecider, userStreamId(userId));
  return {
    canonical,
    reservationStreamId,
    reservation,
    user: user.revision === -1 ? null : { ...user, userId },
  };
};

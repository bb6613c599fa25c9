import { handle, type CommandContext, type LoadedStream } from '../write/handle';
import type { EventStore } from '../event-store';
import type { EmailKeys } from '../ports';
import {
  emailReservationDecider,
  emailReservationStreamId,
  type EmailReservationState,
} from '../../domain/email-reservation';

/**
 * The work that spans an address's `email-<hmac>` reservation stream and an account's `user-` stream
 * (docs/design.md, "Email uniqueness"): registration reserves before it writes the account, erasure
 * releases before it shreds the key (and a registration finishes an erasure that stopped in between).
 * Each step is one append through the write path; the order is what makes a crash at any point safe.
 */
type Deps = { store: EventStore };

export const reservationStreamOf = (deps: { emailKeys: EmailKeys }, canonical: string): string =>
  emailReservationStreamId(deps.emailKeys.reservationKey(canonical));

/**
 * Reserves the address for `userId` on the reservation exactly as it was read: one attempt, so a racing
 * registration that got there first makes this one fail with a version conflict and look again. The
 * owner's stream was read just now and does not exist: the decider tells an orphan from a registration in
 * flight by the reservation's age.
 */
export const reserveAddress = async (
  deps: Deps,
  streamId: string,
  reservation: LoadedStream<EmailReservationState>,
  userId: string,
  ctx: CommandContext,
): Promise<void> => {
  await handle(
    deps.store,
    emailReservationDecider,
    streamId,
    { type: 'ReserveEmail', data: { userId, ownerExists: false, now: ctx.now } },
    ctx,
    { initial: reservation, attempts: 1 },
  );
};

/**
 * Releases the address if `userId` still holds it. `reservation`: the stream as just read, for a caller
 * that must not release a reservation that moved on meanwhile (one attempt); without it the release reads
 * the stream itself and retries on conflict.
 */
export const releaseAddress = async (
  deps: Deps,
  streamId: string,
  userId: string,
  ctx: CommandContext,
  reservation?: LoadedStream<EmailReservationState>,
): Promise<void> => {
  await handle(
    deps.store,
    emailReservationDecider,
    streamId,
    { type: 'ReleaseEmail', data: { userId, now: ctx.now } },
    ctx,
    reservation ? { initial: reservation, attempts: 1 } : {},
  );
};

import {
  fromTimestamp,
  recorded,
  toTimestamp,
  unknownEvent,
  unreachable,
  type Decider,
  type Decision,
  type Recorded,
} from '../shared/decider';
import { DomainError } from '../shared/errors';
import type { EmailReservationCommand, ReleaseEmail, ReserveEmail } from './commands';
import type { EmailReservationEvent } from './events';

/** `revision`: the stream revision of the last event folded in (-1: no stream), as in the user stream. */
export type EmailReservationState =
  | Readonly<{ status: 'free'; revision: number }>
  | Readonly<{ status: 'reserved'; revision: number; ownerUserId: string; reservedAt: Date }>;

/**
 * A reservation younger than this whose account does not exist yet is most likely a registration between
 * its two appends, not an orphan: taking it over then would leave two accounts for one address.
 */
export const ORPHAN_AFTER_MS = 60_000;

export const initialState: EmailReservationState = { status: 'free', revision: -1 };

const reserveEmail = ({ data }: ReserveEmail, state: EmailReservationState): EmailReservationEvent[] => {
  const reserved: EmailReservationEvent = {
    type: 'EmailReserved',
    data: { userId: data.userId, at: toTimestamp(data.now) },
  };
  switch (state.status) {
    case 'free':
      return [reserved];
    case 'reserved': {
      // A retry of the same registration finds its own reservation and goes on to register.
      if (state.ownerUserId === data.userId) return [];
      if (data.ownerExists) throw new DomainError('email-taken', 'The address belongs to an account');
      if (data.now.getTime() - state.reservedAt.getTime() < ORPHAN_AFTER_MS) {
        throw new DomainError('conflict', 'The address is being registered');
      }
      return [{ type: 'EmailReleased', data: { userId: state.ownerUserId } }, reserved];
    }
    default:
      return unreachable(state);
  }
};

/** Releasing an address the user does not hold (any more) has nothing to do. */
const releaseEmail = ({ data }: ReleaseEmail, state: EmailReservationState): EmailReservationEvent[] =>
  state.status === 'reserved' && state.ownerUserId === data.userId
    ? [{ type: 'EmailReleased', data: { userId: data.userId } }]
    : [];

export const decide = (
  command: EmailReservationCommand,
  state: EmailReservationState,
): Decision<Recorded, EmailReservationEvent> => {
  switch (command.type) {
    case 'ReserveEmail':
      return recorded(reserveEmail(command, state));
    case 'ReleaseEmail':
      return recorded(releaseEmail(command, state));
    default:
      return unreachable(command);
  }
};

const apply = (
  state: EmailReservationState,
  event: EmailReservationEvent,
  revision: number,
): EmailReservationState => {
  switch (event.type) {
    case 'EmailReserved':
      return {
        status: 'reserved',
        revision,
        ownerUserId: event.data.userId,
        reservedAt: fromTimestamp(event.data.at),
      };
    case 'EmailReleased':
      return state.status === 'reserved' && state.ownerUserId === event.data.userId
        ? { status: 'free', revision }
        : state;
    default:
      return unknownEvent(event, state);
  }
};

export const evolve = (
  state: EmailReservationState,
  event: EmailReservationEvent,
): EmailReservationState => ({
  ...apply(state, event, state.revision + 1),
  revision: state.revision + 1,
});

export const emailReservationDecider: Decider<
  EmailReservationCommand,
  EmailReservationEvent,
  EmailReservationState
> = {
  initialState,
  evolve,
  decide,
};

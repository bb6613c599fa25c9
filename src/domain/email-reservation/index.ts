export * from './commands';
export * from './events';
export {
  emailReservationDecider,
  ORPHAN_AFTER_MS,
  type EmailReservationState,
  evolve as evolveEmailReservation,
  decide as decideEmailReservation,
} from './decider';

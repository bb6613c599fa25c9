import type { DomainCommand } from '../shared/decider';

/**
 * `ownerExists`: whether the current owner's `user-` stream exists. A reservation whose account was
 * never written (a crash between reserving and registering) is an orphan and can be taken over.
 */
export type ReserveEmail = DomainCommand<'ReserveEmail', { userId: string; ownerExists: boolean; now: Date }>;

export type ReleaseEmail = DomainCommand<'ReleaseEmail', { userId: string; now: Date }>;

export type EmailReservationCommand = ReserveEmail | ReleaseEmail;

import type { EmailReservationCommand } from '../../../src/domain/email-reservation/commands';
import { emailReservationDecider, ORPHAN_AFTER_MS } from '../../../src/domain/email-reservation/decider';
import type { EmailReservationEvent } from '../../../src/domain/email-reservation/events';
import { emailReservationStreamId } from '../../../src/domain/email-reservation/events';
import { deciderSpec } from '../../support/decider-spec';
import { at, iso, MINUTE } from './user-fixtures';

const spec = deciderSpec(emailReservationDecider);

const reserve = (userId: string, nowMs: number, ownerExists = true): EmailReservationCommand => ({
  type: 'ReserveEmail',
  data: { userId, ownerExists, now: at(nowMs) },
});
const release = (userId: string, nowMs: number): EmailReservationCommand => ({
  type: 'ReleaseEmail',
  data: { userId, now: at(nowMs) },
});
const reserved = (userId: string, atMs: number): EmailReservationEvent => ({
  type: 'EmailReserved',
  data: { userId, at: iso(atMs) },
});
const released = (userId: string): EmailReservationEvent => ({ type: 'EmailReleased', data: { userId } });

describe('ReserveEmail', () => {
  it('reserves a free address', () => {
    spec
      .given([])
      .when(reserve('user-a', 0))
      .then([reserved('user-a', 0)]);
  });

  it('reserves a released address', () => {
    spec
      .given([reserved('user-a', 0), released('user-a')])
      .when(reserve('user-b', MINUTE))
      .then([reserved('user-b', MINUTE)]);
  });

  it('does nothing when the same user reserves again', () => {
    spec
      .given([reserved('user-a', 0)])
      .when(reserve('user-a', MINUTE, false))
      .thenNothing();
  });

  it('refuses an address whose owner exists', () => {
    spec
      .given([reserved('user-a', 0)])
      .when(reserve('user-b', 10 * MINUTE, true))
      .thenThrows('email-taken');
  });

  it('takes over an orphan reservation, releasing it first', () => {
    spec
      .given([reserved('user-a', 0)])
      .when(reserve('user-b', ORPHAN_AFTER_MS, false))
      .then([released('user-a'), reserved('user-b', ORPHAN_AFTER_MS)]);
  });

  it('refuses to take over a reservation young enough to be a registration in flight', () => {
    spec
      .given([reserved('user-a', 0)])
      .when(reserve('user-b', ORPHAN_AFTER_MS - 1, false))
      .thenThrows('conflict');
  });
});

describe('ReleaseEmail', () => {
  it('releases the address held by the user', () => {
    spec
      .given([reserved('user-a', 0)])
      .when(release('user-a', MINUTE))
      .then([released('user-a')]);
  });

  it('does nothing for an address the user does not hold', () => {
    spec.given([]).when(release('user-a', MINUTE)).thenNothing();
    spec
      .given([reserved('user-a', 0), released('user-a')])
      .when(release('user-a', MINUTE))
      .thenNothing();
    spec
      .given([reserved('user-b', 0)])
      .when(release('user-a', MINUTE))
      .thenNothing();
  });
});

describe('the reservation state', () => {
  it('knows the owner and counts revisions', () => {
    expect(
      spec.given([reserved('user-a', 0), released('user-a'), reserved('user-b', MINUTE)]).state(),
    ).toStrictEqual({
      status: 'reserved',
      revision: 2,
      ownerUserId: 'user-b',
      reservedAt: at(MINUTE),
    });
  });

  it('is free with no stream', () => {
    expect(spec.given([]).state()).toStrictEqual({ status: 'free', revision: -1 });
  });

  it('names the stream by the address HMAC only', () => {
    expect(emailReservationStreamId('ab12')).toBe('email-ab12');
  });
});

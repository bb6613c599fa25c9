import { fold, type Decider } from '../../src/domain/shared/decider';
import { DomainError, type DomainErrorCode } from '../../src/domain/shared/errors';

/**
 * Given/when/then for a decider in plain jest:
 *
 *   const spec = deciderSpec(userDecider);
 *   spec.given([registered]).when(verifyEmail).then([emailVerified]);
 *   spec.given([]).when(verifyEmail).thenThrows('invalid-or-expired-token');
 *
 * `then` compares the decided events exactly (toStrictEqual: order, members, no extra undefined members).
 */
export const deciderSpec = <Command, Event, State, Outcome>(
  decider: Decider<Command, Event, State, Outcome>,
) => ({
  given: (history: readonly Event[]) => {
    const state = (): State => fold(decider, history);
    return {
      /** The state the history folds to, for assertions the events alone cannot express. */
      state,
      when: (command: Command) => {
        const decide = (): Event[] => decider.decide(command, state()).events;
        return {
          then: (expected: readonly Event[]): void => {
            expect(decide()).toStrictEqual(expected);
          },
          thenNothing: (): void => {
            expect(decide()).toStrictEqual([]);
          },
          thenThrows: (code: DomainErrorCode): void => {
            let thrown: unknown;
            try {
              decide();
            } catch (error) {
              thrown = error;
            }
            expect(thrown).toBeInstanceOf(DomainError);
            expect((thrown as DomainError).code).toBe(code);
          },
          /** The state after the decided events: for a decision followed by what it made possible. */
          thenState: (): State => fold(decider, decide(), state()),
        };
      },
    };
  },
});

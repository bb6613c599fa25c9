import { unreachable } from '../shared/decider';
import type { UserState } from './state';

/** A session as the user stream judges it: which session, and the user revision its login decided on. */
export type SessionClaim = Readonly<{
  sessionId: string;
  startedAtUserRevision: number;
  /**
   * Not consulted: nothing on the user side of a session's life depends on time. Lifetimes live in the
   * session stream (session/liveness.ts); accepted so one call site can pass the whole check's inputs.
   */
  now?: Date;
}>;

/**
 * The user-side half of docs/design.md, "Sessions": the user can still act (active, or pending
 * verification where the deployment lets such users in) and the session started at or after the last
 * cut-off, or is the one a password change kept. The session's own end and lifetimes are checked on the
 * session stream; see session/liveness.ts for both halves together.
 */
export const isSessionAlive = (user: UserState, claim: SessionClaim): boolean => {
  switch (user.status) {
    case 'pending_verification':
    case 'active': {
      const cutOff = user.sessionsCutOff;
      return (
        cutOff === null ||
        claim.startedAtUserRevision >= cutOff.revision ||
        claim.sessionId === cutOff.survivorSessionId
      );
    }
    case 'initial':
    case 'deactivated':
    case 'erased':
      return false;
    default:
      return unreachable(user);
  }
};

/** What the rest of the service uses of the user stream's domain; everything else stays inside it. */
export {
  type AcceptInvitation,
  type DeactivateUser,
  type GrantRole,
  type ReactivateUser,
  type RegisterUser,
  type ResetPassword,
  type RevokeRole,
  type UnlockUser,
  type UserCommand,
} from './commands';
export { USER_STREAM_PREFIX, type UserEvent, userStreamId } from './events';
export { userDecider, evolve as evolveUser, decide as decideUser, type UserOutcome } from './decider';
export { LOCKOUT_THRESHOLD, isLocked } from './lockout';
export {
  type LoginAttemptDecision,
  type LoginDecision,
  type LoginOutcome,
  checkPassword,
  startLoginAttempt,
} from './login';
export { decideChangePassword, decideResetPassword } from './password';
export { ROLES, type Role, isRole } from './roles';
export {
  type Account,
  type CutOffReason,
  type UserState,
  invalidToken,
  isAccount,
  requireAccount,
  requireUsableAccount,
} from './state';

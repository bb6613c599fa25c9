import { z } from 'zod';
import { ROLES } from '../domain/user';
import { CurrentPassword, NewPassword, OneTimeToken, Reason, RegistrationEmail, RoleName } from './schemas';

/** Account self-service bodies (CONTRACT.md "Pages a person opens"): each step proven with the password. */
export const DeleteAccountRequest = z.object({ password: CurrentPassword }).strict();

export const ChangeEmailRequest = z
  .object({ new_email: RegistrationEmail, password: CurrentPassword })
  .strict();

export const ChangeEmailAccepted = z.object({ status: z.literal('confirmation_sent') });

export const ConfirmEmailChangeRequest = z.object({ token: OneTimeToken }).strict();

export const EmailChangedResponse = z.object({ email_changed: z.literal(true) });

/** Admin invitations. */
export const InviteRequest = z
  .object({ email: RegistrationEmail, roles: z.array(RoleName).max(ROLES.length).optional(), reason: Reason })
  .strict();

export const InviteCreated = z.object({ user_id: z.uuid() });

export const SetPasswordRequest = z.object({ token: OneTimeToken, new_password: NewPassword }).strict();

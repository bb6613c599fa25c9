import { z } from 'zod';
import { CurrentPassword, OneTimeToken, RegistrationEmail } from './schemas';

/** Account self-service bodies (CONTRACT.md "Pages a person opens"): each step proven with the password. */
export const DeleteAccountRequest = z.object({ password: CurrentPassword }).strict();

export const ChangeEmailRequest = z
  .object({ new_email: RegistrationEmail, password: CurrentPassword })
  .strict();

export const ChangeEmailAccepted = z.object({ status: z.literal('confirmation_sent') });

export const ConfirmEmailChangeRequest = z.object({ token: OneTimeToken }).strict();

export const EmailChangedResponse = z.object({ email_changed: z.literal(true) });

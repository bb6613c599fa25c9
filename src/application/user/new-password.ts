import type { PasswordHasher, PasswordPolicy, WeakPasswordReason } from '../ports';

export type NewPasswordResult = { ok: true; hash: string } | { ok: false; reasons: WeakPasswordReason[] };

/**
 * The one way a NEW password (registration, change, reset) becomes a hash: the policy first, and the hasher
 * only for a password that passed it, so an over-long or weak password never costs an argon2 run.
 */
export const hashNewPassword = async (
  policy: PasswordPolicy,
  hasher: PasswordHasher,
  password: string,
  context: { email: string },
): Promise<NewPasswordResult> => {
  const reasons = policy.check(password, context);
  if (reasons.length > 0) return { ok: false, reasons };
  return { ok: true, hash: await hasher.hash(password) };
};

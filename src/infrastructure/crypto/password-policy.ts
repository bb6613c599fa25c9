import type { PasswordPolicy, WeakPasswordReason } from '../../application/ports';
import commonPasswordList from './common-passwords.json';

/**
 * The password policy of NIST SP 800-63B §5.1.1.2 and OWASP ASVS 4.0 V2.1: a length window counted in
 * Unicode code points (an emoji is one character, not two UTF-16 units), no composition rules, no trimming,
 * no truncation, and a refusal of known-common passwords and of the account's own email.
 *
 * `common-passwords.json` holds, lower-cased and deduplicated: the entries of 8 or more characters of
 * SecLists' "10k-most-common" list (shorter ones can never pass the length floor); sequences and
 * repetitions ("123456789012", "qwertyuiopas", "aaaaaaaaaaaa": NIST's "repetitive or sequential
 * characters"); and the commonest words doubled or with the suffixes people add to reach a length rule
 * ("passwordpassword", "iloveyou1234", "summer2024"). A breached-password service (k-anonymity range
 * queries) would cover far more; this list works offline.
 */

/** NIST SP 800-63B's minimum for user-chosen secrets; the configured minimum may only be higher. */
export const MIN_LENGTH_FLOOR = 8;
export const MAX_LENGTH = 256;

export type PasswordPolicyOptions = { minLength?: number };

const COMMON: ReadonlySet<string> = new Set(commonPasswordList as string[]);

export const passwordPolicy = (options: PasswordPolicyOptions = {}): PasswordPolicy => {
  const minLength = options.minLength ?? 12;
  if (!Number.isInteger(minLength) || minLength < MIN_LENGTH_FLOOR || minLength > MAX_LENGTH) {
    throw new RangeError(`the minimum password length must be between ${MIN_LENGTH_FLOOR} and ${MAX_LENGTH}`);
  }
  return {
    check: (password, context) => {
      if (typeof password !== 'string') return ['too-short'];
      // First, and on its own: nothing else (lower-casing, list look-ups, let alone hashing) ever runs on
      // an over-long input. Each code point takes one or two UTF-16 units, which bounds the count cheaply.
      if (password.length > 2 * MAX_LENGTH || codePoints(password) > MAX_LENGTH) return ['too-long'];

      const reasons: WeakPasswordReason[] = [];
      if (codePoints(password) < minLength) reasons.push('too-short');
      // Compared as the hasher will see it (NFKC), so full-width "ｐａｓｓｗｏｒｄ…" is the same password.
      const folded = password.normalize('NFKC').toLowerCase();
      if (COMMON.has(folded)) reasons.push('common');
      if (containsEmail(folded, context.email)) reasons.push('contains-email');
      return reasons;
    },
  };
};

const codePoints = (text: string): number => [...text].length;

// The local part only counts from 3 characters: "contains 'jo'" would refuse half of all passwords while
// protecting nothing. The whole address always counts.
const containsEmail = (foldedPassword: string, email: string): boolean => {
  if (typeof email !== 'string') return false;
  const address = email.trim().toLowerCase();
  if (address.length === 0) return false;
  if (foldedPassword.includes(address)) return true;
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at) : '';
  return codePoints(local) >= 3 && foldedPassword.includes(local);
};

import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * THE canonical form of an email address: the one function every path (register, login, resend,
 * forgot-password, admin search, bootstrap admin) uses to turn what a person typed into a lookup key.
 * Returns null for anything that is not one plausible address; callers treat null as "no such account"
 * (uniform answers, no enumeration).
 *
 * What it does:
 * - trims surrounding whitespace and applies Unicode NFC, so the same text typed on two keyboards is one key;
 * - lower-cases the local part AND the domain. Domains are case-insensitive (RFC 1035 §2.3.3). Local parts
 *   MAY be case-sensitive (RFC 5321 §2.4), but no mainstream provider treats them so, and two accounts for
 *   `Alice@` and `alice@` would be the same person's mailbox twice: folding case is a deliberate product
 *   choice, and the price is that a mail system which does distinguish case cannot host two accounts;
 * - maps the domain through IDNA (UTS #46, as browsers do), so `ＥＸＡＭＰＬＥ.com`, `xn--bcher-kva.de` and
 *   `bücher.de` reach the same key as their plain spelling;
 * - keeps sub-addresses (`+tag`) and dots: they are different keys, as providers differ on them.
 *
 * It rejects control and format characters (CR/LF header injection, zero-width and bidi characters),
 * whitespace inside, zero or several `@` (one address, never a list: GitLab CVE-2023-7028), empty parts,
 * quoted or bracketed forms, IP-literal domains, and anything over 254 octets (RFC 5321 §4.5.3.1.3 path limit
 * less the angle brackets; 64 for the local part).
 *
 * Case folding makes different strings meet on one key (the Kelvin sign K folds to `k`): that is the point
 * of a key, and it is why mail is ALWAYS sent to the address stored on the account, never to the address in
 * the request (Django CVE-2019-19844). Visually confusable letters from other scripts (Cyrillic `а`) are NOT
 * merged: they are different mailboxes.
 */
export const canonicalEmail = (input: string): string | null => {
  if (typeof input !== 'string') return null;
  const text = input.trim().normalize('NFC');
  if (text.length === 0 || Buffer.byteLength(text, 'utf8') > MAX_ADDRESS_OCTETS) return null;
  if (FORBIDDEN.test(text)) return null;

  const parts = text.split('@');
  if (parts.length !== 2) return null;
  const [rawLocal, rawDomain] = parts as [string, string];

  const local = rawLocal.toLowerCase().normalize('NFC');
  if (!isDotAtom(local) || Buffer.byteLength(local, 'utf8') > MAX_LOCAL_OCTETS) return null;

  const domain = canonicalDomain(rawDomain);
  if (domain === null) return null;

  const address = `${local}@${domain}`;
  return Buffer.byteLength(address, 'utf8') > MAX_ADDRESS_OCTETS ? null : address;
};

const MAX_ADDRESS_OCTETS = 254;
const MAX_LOCAL_OCTETS = 64;

// Control (Cc), format (Cf: zero-width, bidi overrides), line/paragraph separators, lone surrogates, and any
// whitespace: none of them belongs in an address a person can read back.
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\s]/u;

// RFC 5322 dot-atom of atext, plus letters, marks and digits of any script (RFC 6531 internationalised
// local parts). Quoted local parts ("john doe"@…) are refused: legal, but no one registers with them.
const ATOM = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+$/u;
const isDotAtom = (local: string): boolean =>
  local.length > 0 && local.split('.').every((atom) => ATOM.test(atom));

const LDH_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// Letters, marks, digits, hyphens and the dots IDNA accepts (full stop, ideographic and full-width ones).
// Anything else is refused before mapping, which would otherwise percent-decode `ex%61mple.com`.
const DOMAIN_TEXT = /^[\p{L}\p{M}\p{N}.\u3002\uFF0E\uFF61-]+$/u;

const canonicalDomain = (raw: string): string | null => {
  // Checked before IDNA mapping, which would silently drop a trailing dot or turn `127.1` into an IP.
  if (!DOMAIN_TEXT.test(raw) || raw.split('.').some((label) => label.length === 0)) return null;
  const ascii = domainToASCII(raw);
  if (ascii === '' || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LDH_LABEL.test(label))) return null;
  // A top-level domain is never all digits; this also refuses dotted IPv4 literals.
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return null;
  const unicode = domainToUnicode(ascii).normalize('NFC');
  return unicode === '' ? null : unicode;
};

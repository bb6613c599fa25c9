import { canonicalEmail } from '../../../src/application/canonical-email';

describe('canonicalEmail', () => {
  it.each([
    ['alice@example.com', 'alice@example.com'],
    ['  Alice@Example.COM \t', 'alice@example.com'],
    ['ALICE.SMITH+News@Sub.Example.Org', 'alice.smith+news@sub.example.org'],
    ["o'brien_x-y@example.co.uk", "o'brien_x-y@example.co.uk"],
  ])('folds %j to the key %j', (input, key) => {
    expect(canonicalEmail(input)).toBe(key);
  });

  it('applies NFC, so a decomposed accent is the same key as a composed one', () => {
    const composed = 'jos\u00e9@example.com';
    const decomposed = 'jose\u0301@example.com';
    expect(canonicalEmail(decomposed)).toBe(composed);
    expect(canonicalEmail(composed)).toBe(composed);
  });

  it('lower-cases non-ASCII local parts', () => {
    expect(canonicalEmail('JOSÉ@EXAMPLE.COM')).toBe('josé@example.com');
    expect(canonicalEmail('ΑΛΙΚΗ@example.gr')).toBe('αλικη@example.gr');
  });

  it('folds the Kelvin sign onto k: a look-alike lands on the real key, which is why mail goes to the stored address', () => {
    // Django CVE-2019-19844: the key may collide, the recipient must still be the account's own address.
    expect(canonicalEmail('\u212Aate@example.com')).toBe('kate@example.com');
  });

  it('keeps letters of other scripts apart: Cyrillic а is not Latin a', () => {
    const latin = canonicalEmail('anna@example.com');
    const cyrillic = canonicalEmail('\u0430nna@example.com');
    expect(cyrillic).not.toBeNull();
    expect(cyrillic).not.toBe(latin);
  });

  it('maps internationalised and full-width domains onto one spelling', () => {
    expect(canonicalEmail('a@B\u00dcCHER.de')).toBe('a@bücher.de');
    expect(canonicalEmail('a@xn--bcher-kva.de')).toBe('a@bücher.de');
    expect(canonicalEmail('a@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com')).toBe('a@example.com');
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['alice', 'no @'],
    ['alice@@example.com', 'two @'],
    ['alice@bob@example.com', 'two @'],
    ['a@example.com,b@example.com', 'a list'],
    ['@example.com', 'empty local part'],
    ['alice@', 'empty domain'],
    ['alice@example', 'no dot in the domain'],
    ['alice@example..com', 'empty label'],
    ['alice@.example.com', 'leading dot'],
    ['alice@example.com.', 'trailing dot'],
    ['alice@-example.com', 'label starting with a hyphen'],
    ['alice@exa_mple.com', 'underscore in the domain'],
    ['alice@ex%61mple.com', 'percent-encoding in the domain'],
    ['alice@[192.168.0.1]', 'IP literal'],
    ['alice@192.168.0.1', 'dotted IPv4'],
    ['.alice@example.com', 'leading dot in the local part'],
    ['alice.@example.com', 'trailing dot in the local part'],
    ['al..ice@example.com', 'double dot in the local part'],
    ['"alice smith"@example.com', 'quoted local part'],
    ['alice smith@example.com', 'space inside'],
    ['alice@exa mple.com', 'space in the domain'],
    ['alice@example.com\r\nBcc: mallory@example.com', 'CRLF header injection'],
    ['alice\n@example.com', 'line feed'],
    ['ali\u0000ce@example.com', 'NUL'],
    ['ali\u200bce@example.com', 'zero-width space'],
    ['alice\u202e@example.com', 'bidi override'],
    ['alice\u00a0smith@example.com', 'no-break space inside'],
    ['alice\uff20example.com', 'full-width @ only'],
    ['<alice@example.com>', 'angle brackets'],
    ['Alice <alice@example.com>', 'display name'],
  ])('rejects %j (%s)', (input) => {
    expect(canonicalEmail(input)).toBeNull();
  });

  it('accepts an address of exactly 254 octets and rejects 255', () => {
    const domain = `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(61)}.com`; // 192 octets
    const at254 = `${'a'.repeat(254 - 1 - domain.length)}@${domain}`;
    expect(at254.length).toBe(254);
    expect(canonicalEmail(at254)).toBe(at254);
    expect(canonicalEmail(`a${at254}`)).toBeNull();
  });

  it('rejects a local part over 64 octets', () => {
    expect(canonicalEmail(`${'a'.repeat(64)}@example.com`)).not.toBeNull();
    expect(canonicalEmail(`${'a'.repeat(65)}@example.com`)).toBeNull();
  });

  it('returns null for a value that is not a string', () => {
    expect(canonicalEmail(undefined as unknown as string)).toBeNull();
    expect(canonicalEmail(['a@example.com'] as unknown as string)).toBeNull();
  });

  it('is idempotent', () => {
    for (const input of ['  Alice@Example.COM', 'jose\u0301@B\u00dcCHER.de', '\u212Aate@example.com']) {
      const once = canonicalEmail(input) as string;
      expect(canonicalEmail(once)).toBe(once);
    }
  });
});

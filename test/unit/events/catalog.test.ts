import { EVENT_CATALOG, catalogEntry, type MailKind } from '../../../src/catalog';
import { eventSchemas } from '../../../src/application/events/schemas';

describe('the event catalogue', () => {
  it('describes every feed event type, and the feed has a schema for every account and session event', () => {
    const described = Object.keys(EVENT_CATALOG).filter(
      (t) => t !== 'EmailReserved' && t !== 'EmailReleased',
    );
    expect(Object.keys(eventSchemas).sort()).toEqual(described.sort());
  });

  it('names each mail kind for exactly one event type', () => {
    const kinds = Object.values(EVENT_CATALOG)
      .flatMap((e): readonly (MailKind | undefined)[] => (typeof e.mail === 'object' ? e.mail : [e.mail]))
      .filter((k): k is MailKind => k !== undefined);
    expect(new Set(kinds).size).toBe(kinds.length);
    expect(kinds.sort()).toEqual([
      'email-change',
      'email-change-notice',
      'password-changed',
      'password-reset',
      'reset',
      'signup-attempt',
      'verification',
    ]);
  });

  it('keeps every hash and nonce secret', () => {
    for (const entry of Object.values(EVENT_CATALOG)) {
      for (const [name, kind] of Object.entries(entry.fields)) {
        if (/hash|nonce/i.test(name)) expect(`${name}: ${kind}`).toBe(`${name}: secret`);
      }
    }
  });

  it('knows nothing of a type a newer writer made', () => {
    expect(catalogEntry('SomethingNew')).toBeUndefined();
    expect(catalogEntry('toString')).toBeUndefined();
  });
});

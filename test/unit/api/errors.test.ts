import { toProblem } from '../../../src/api/errors';
import { AppendTooLargeError, StoreUnavailableError } from '../../../src/application/event-store';
import { DOMAIN_ERROR_CODES, DomainError } from '../../../src/domain/shared/errors';

describe('the error table', () => {
  it('answers an append over the store limit with 413 payload-too-large, naming no stream', () => {
    const p = toProblem(new AppendTooLargeError('user-6f1c7a52-2d4e-4b43-9c2d-8a3f0e9b1c11', 1_048_576));
    expect([p.status, p.code]).toEqual([413, 'payload-too-large']);
    expect(p.detail ?? '').not.toContain('user-');
  });

  it('maps every domain error code to a 4xx problem', () => {
    for (const code of DOMAIN_ERROR_CODES) {
      const p = toProblem(new DomainError(code));
      expect(p.status).toBeGreaterThanOrEqual(400);
      expect(p.status).toBeLessThan(500);
    }
  });

  it('answers a store outage with 503 and Retry-After', () => {
    const p = toProblem(new StoreUnavailableError('down'));
    expect([p.status, p.code, p.extra.headers?.['Retry-After']]).toEqual([503, 'unavailable', '5']);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../../src/application/event-store';
import { presentEvent } from '../../../src/application/events/present';
import { InMemoryPiiKeyStore, PiiVault } from '../../../src/infrastructure/crypto/pii-vault';

const recorded = (streamId: string, type: string, data: unknown, metadata: Record<string, unknown> = {}) =>
  ({
    id: randomUUID(),
    streamId,
    revision: 0,
    position: '0000000000000001-0000000000000002',
    type,
    data,
    metadata: {
      occurred_at: '2025-03-01T10:00:00.000Z',
      correlation_id: 'corr-1',
      causation_id: 'cause-1',
      actor: { type: 'admin', id: 'a-1' },
      schema_version: 1,
      reason: 'support ticket 42',
      ...metadata,
    },
    createdAt: new Date('2025-03-01T10:00:01.000Z'),
  }) satisfies RecordedEvent;

describe('presentEvent', () => {
  const vault = new PiiVault(new InMemoryPiiKeyStore(), randomBytes(32));
  const userId = randomUUID();
  let registered: RecordedEvent;

  beforeAll(async () => {
    await vault.createKey(userId);
    registered = recorded(
      `user-${userId}`,
      'UserRegistered',
      {
        userId,
        email: await vault.seal(userId, 'ada@example.com'),
        passwordHash: await vault.seal(userId, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'),
        registeredAt: '2025-03-01T10:00:00.000Z',
      },
      { ip: '203.0.113.9' },
    );
  });

  it('has the contract shape, snake_case data and only allowed metadata', async () => {
    const json = await presentEvent(registered, { revealPersonalData: true, vault });
    expect(json).toEqual({
      position: registered.position,
      stream: `user-${userId}`,
      revision: 0,
      id: registered.id,
      type: 'UserRegistered',
      occurred_at: '2025-03-01T10:00:00.000Z',
      schema_version: 1,
      data: { user_id: userId, email: 'ada@example.com', registered_at: '2025-03-01T10:00:00.000Z' },
      metadata: {
        correlation_id: 'corr-1',
        causation_id: 'cause-1',
        actor: { type: 'admin', id: 'a-1' },
        reason: 'support ticket 42',
      },
    });
  });

  it('redacts personal data for callers who may not read it', async () => {
    const json = await presentEvent(registered, { revealPersonalData: false, vault });
    expect(json.data.email).toBe('[redacted]');
    expect(JSON.stringify(json)).not.toContain('ada@example.com');
  });

  it('never shows hashes, nonces or sealed values, and nothing of an unknown event type', async () => {
    const session = recorded(`session-${randomUUID()}`, 'SessionStarted', {
      sessionId: randomUUID(),
      userId,
      startedAtUserRevision: 3,
      refreshTokenHash: 'f'.repeat(64),
      nonce: randomUUID(),
      startedAt: '2025-03-01T10:00:00.000Z',
      absoluteExpiresAt: '2025-03-31T10:00:00.000Z',
      userAgent: await vault.seal(userId, 'curl/8'),
    });
    const json = await presentEvent(session, { revealPersonalData: true, vault });
    expect(json.data).toMatchObject({ user_agent: 'curl/8', started_at_user_revision: 3 });
    expect(Object.keys(json.data)).not.toEqual(expect.arrayContaining(['refresh_token_hash']));
    expect(JSON.stringify(json)).not.toMatch(/f{64}|nonce|pii:v1:/);

    const changed = recorded(`user-${userId}`, 'PasswordChanged', {
      passwordHash: await vault.seal(userId, '$argon2id$...'),
      at: '2025-03-01T10:00:00.000Z',
    });
    expect((await presentEvent(changed, { revealPersonalData: true, vault })).data).toEqual({
      at: '2025-03-01T10:00:00.000Z',
    });
    const future = recorded(`user-${userId}`, 'PasskeyAdded', { credentialId: 'c', publicKey: 'k' });
    expect((await presentEvent(future, { revealPersonalData: true, vault })).data).toEqual({});
  });

  it('reads [erased] once the key is gone', async () => {
    const other = randomUUID();
    await vault.createKey(other);
    const event = recorded(`user-${other}`, 'UserProfileUpdated', {
      username: await vault.seal(other, 'Ada'),
    });
    expect((await presentEvent(event, { revealPersonalData: true, vault })).data).toEqual({
      username: 'Ada',
    });
    await vault.erase(other);
    expect((await presentEvent(event, { revealPersonalData: true, vault })).data).toEqual({
      username: '[erased]',
    });
  });
});

import { loadStream } from '../../src/application/write/handle';
import { userDecider, userStreamId } from '../../src/domain/user';
import { startTestApp, type TestApp } from '../support/app';
import { expectProblem, register, signedIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, testToken } from '../support/session-fixtures';

const [embedded] = testBackends();

describe('DELETE /v1/users/me', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!);
  });
  afterAll(() => t.close());

  const del = (auth: Record<string, string>, body: unknown) =>
    fetch(`${t.url}/v1/users/me`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(body),
    });

  it('a wrong password is 403 invalid-credentials, counts as a failed login, and deletes nothing', async () => {
    const me = await signedIn(t);
    await expectProblem(
      await del(me.auth, { password: 'not-the-password-at-all' }),
      403,
      'invalid-credentials',
    );
    const folded = await loadStream(t.services.store, userDecider, userStreamId(me.userId));
    expect(folded.state.status).toBe('active');
    const types = (await t.services.store.readStream(userStreamId(me.userId))).map((e) => e.type);
    expect(types.at(-1)).toBe('LoginFailed');
    expect((await testToken(t, me.tokens.access_token)).status).toBe(200);
  });

  it('erases as the admin erasure does, with the user as actor: sessions end, the address is free', async () => {
    const me = await signedIn(t);
    const res = await del(me.auth, { password: me.password });
    expect(res.status).toBe(204);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await testToken(t, me.tokens.access_token)).status).toBe(401);
    await expectProblem(
      await postJson(t, '/v1/auth/login', { email: me.email, password: me.password }),
      401,
      'invalid-credentials',
    );
    const events = await t.services.store.readStream(userStreamId(me.userId));
    const erased = events.find((e) => e.type === 'UserErased');
    expect(erased?.metadata.actor).toEqual({ type: 'user', id: me.userId });
    // The address can be registered anew: a new account, a new verification mail.
    const again = await register(t, { email: me.email });
    expect(again.userId).not.toBe(me.userId);
  });

  it('needs a bearer token and the password member', async () => {
    await expectProblem(await del({}, { password: 'x' }), 401, 'invalid-token');
    const me = await signedIn(t);
    await expectProblem(await del(me.auth, {}), 400, 'validation-failed');
  });
});

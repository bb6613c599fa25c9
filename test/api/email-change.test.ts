import { findAccountByEmail } from '../../src/application/user/find-account';
import { loadStream } from '../../src/application/write/handle';
import { userDecider, userStreamId, type Account } from '../../src/domain/user';
import { startTestApp, type TestApp } from '../support/app';
import { expectProblem, nextMail, signedIn, STRONG_PASSWORD, tokenIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, streamTypes, testToken, uniqueEmail } from '../support/session-fixtures';

const [embedded] = testBackends();

describe('email change: POST /v1/users/me/email, then the link', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!);
  });
  afterAll(() => t.close());

  const change = (auth: Record<string, string>, body: unknown) =>
    postJson(t, '/v1/users/me/email', body, auth);
  const addressOf = async (userId: string): Promise<string | null> => {
    const { state } = await loadStream(t.services.store, userDecider, userStreamId(userId));
    return t.services.vault.open(userId, (state as Account).email);
  };
  const ownerOf = async (email: string) =>
    (await findAccountByEmail(t.services, email))?.user?.userId ?? null;

  it('a wrong password is 403 and asks for nothing', async () => {
    const me = await signedIn(t);
    await expectProblem(
      await change(me.auth, { new_email: uniqueEmail('new'), password: 'not-my-password-1' }),
      403,
      'invalid-credentials',
    );
    expect(await streamTypes(t.services, userStreamId(me.userId))).not.toContain('EmailChangeRequested');
  });

  it('link to the new address, notice to the old; the change only when confirmed; sessions kept; old address freed', async () => {
    const me = await signedIn(t);
    const next = uniqueEmail('next');
    const since = t.mail.messages.length;
    const res = await change(me.auth, { new_email: next, password: me.password });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'confirmation_sent' });
    const link = await nextMail(t, next, 'email-change', since);
    expect(link.text).toMatch(/http:\/\/identity\.test\/confirm-email\?token=/);
    expect(link.html).toContain('Confirm this address');
    const notice = await nextMail(t, me.email, 'email-change-notice', since);
    expect(notice.text).not.toMatch(/token=/);
    const token = tokenIn(link);

    // Opening the page changes nothing; the old address is still the account's and still reserved.
    expect((await fetch(`${t.url}/confirm-email?token=${token}`)).status).toBe(200);
    expect(await addressOf(me.userId)).toBe(me.email);
    expect(await ownerOf(me.email)).toBe(me.userId);

    const confirmed = await postJson(t, '/v1/auth/confirm-email', { token });
    expect(confirmed.status).toBe(200);
    expect(await addressOf(me.userId)).toBe(next);
    expect(await ownerOf(next)).toBe(me.userId);
    expect(await ownerOf(me.email)).toBeNull();
    const profile = await (await testToken(t, me.tokens.access_token)).json();
    expect(profile).toMatchObject({ email: next, email_verified: true });
    expect((await postJson(t, '/v1/auth/login', { email: next, password: me.password })).status).toBe(200);
    await expectProblem(
      await postJson(t, '/v1/auth/login', { email: me.email, password: me.password }),
      401,
      'invalid-credentials',
    );
    await expectProblem(
      await postJson(t, '/v1/auth/confirm-email', { token }),
      400,
      'invalid-or-expired-token',
    );
    expect((await fetch(`${t.url}/confirm-email?token=${token}`)).status).toBe(400);
    // No token in any event.
    const events = await t.services.store.readStream(userStreamId(me.userId));
    expect(JSON.stringify(events)).not.toContain(token);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['EmailChangeRequested', 'EmailChanged']),
    );
  });

  it('a taken address answers the same; its owner is told someone tried, with no link; nothing changes', async () => {
    const me = await signedIn(t);
    const other = await signedIn(t);
    const since = t.mail.messages.length;
    const res = await change(me.auth, { new_email: other.email, password: me.password });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'confirmation_sent' });
    const tried = await nextMail(t, other.email, 'email-change', since);
    expect(tried.subject).toMatch(/someone tried to use your address/);
    expect(tried.text).not.toMatch(/token=/);
    expect(await ownerOf(other.email)).toBe(other.userId);
    expect(await addressOf(me.userId)).toBe(me.email);
  });

  it('a confirmation racing a registration of the same address: exactly one of them gets it', async () => {
    for (let round = 0; round < 4; round += 1) {
      const me = await signedIn(t);
      const wanted = uniqueEmail('race');
      const since = t.mail.messages.length;
      expect((await change(me.auth, { new_email: wanted, password: me.password })).status).toBe(202);
      const token = tokenIn(await nextMail(t, wanted, 'email-change', since));
      const [confirm, registration] = await Promise.all([
        postJson(t, '/v1/auth/confirm-email', { token }),
        postJson(t, '/v1/auth/register', { email: wanted, password: STRONG_PASSWORD }),
      ]);
      expect(registration.status).toBe(202);
      const owner = await ownerOf(wanted);
      expect(owner).not.toBeNull();
      if (confirm.status === 200) {
        expect(owner).toBe(me.userId);
        expect(await addressOf(me.userId)).toBe(wanted);
      } else {
        expect(confirm.status).toBe(409);
        expect(owner).not.toBe(me.userId);
        expect(await addressOf(me.userId)).toBe(me.email);
        expect(await addressOf(owner!)).toBe(wanted);
        // The loser keeps its own address reserved.
        expect(await ownerOf(me.email)).toBe(me.userId);
      }
    }
  }, 120_000);
});

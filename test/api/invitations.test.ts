import { runRoleCommand } from '../../src/cli/roles';
import { userStreamId } from '../../src/domain/user';
import { startTestApp, type TestApp } from '../support/app';
import { expectProblem, nextMail, signedIn, tokenIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, streamTypes, uniqueEmail } from '../support/session-fixtures';

const [embedded] = testBackends();

describe('admin invitations', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  beforeAll(async () => {
    t = await startTestApp(embedded!);
    admin = await signedIn(t);
    const io = { out: () => undefined, err: () => undefined };
    expect(await runRoleCommand(t.services, 'grant', [admin.email, 'admin', '--reason', 'first'], io)).toBe(
      0,
    );
  });
  afterAll(() => t.close());

  const invite = (body: unknown) => postJson(t, '/v1/admin/users/invite', body, admin.auth);
  const form = (path: string, fields: Record<string, string>) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  it('mails a set-password link; the page sets the password once; the account is verified and has its roles', async () => {
    const email = uniqueEmail('invitee');
    const since = t.mail.messages.length;
    const res = await invite({ email, roles: ['events:read'], reason: 'new colleague' });
    expect(res.status).toBe(201);
    const { user_id: userId } = (await res.json()) as { user_id: string };
    const mail = await nextMail(t, email, 'invitation', since);
    expect(mail.text).toMatch(/http:\/\/identity\.test\/set-password\?token=/);
    expect(mail.text).toMatch(/7 days/);
    const token = tokenIn(mail);
    // Nobody can log in before the password is set.
    expect((await postJson(t, '/v1/auth/login', { email, password: 'anything-at-all-12' })).status).not.toBe(
      200,
    );

    expect((await fetch(`${t.url}/set-password?token=${token}`)).status).toBe(200);
    expect((await form('/set-password', { token, new_password: 'short' })).status).toBe(422);
    const done = await form('/set-password', { token, new_password: 'a-fine-first-password-7' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Your account is ready');
    expect((await fetch(`${t.url}/set-password?token=${token}`)).status).toBe(400);

    const login = await postJson(t, '/v1/auth/login', { email, password: 'a-fine-first-password-7' });
    expect(login.status).toBe(200);
    const types = await streamTypes(t.services, userStreamId(userId));
    expect(types).toEqual([
      'UserInvited',
      'RoleGranted',
      // The login tried before the password was set: the placeholder matches nothing.
      'LoginAttemptStarted',
      'LoginFailed',
      'InvitationAccepted',
      'LoginAttemptStarted',
      'LoginSucceeded',
    ]);
    const events = await t.services.store.readStream(userStreamId(userId));
    expect(events[0]?.metadata).toMatchObject({
      actor: { type: 'admin', id: admin.userId },
      reason: 'new colleague',
    });
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it('an address that has an account is 409; a non-admin is 403', async () => {
    await expectProblem(await invite({ email: admin.email, reason: 'x' }), 409, 'conflict');
    const someone = await signedIn(t);
    await expectProblem(
      await postJson(t, '/v1/admin/users/invite', { email: uniqueEmail('x'), reason: 'x' }, someone.auth),
      403,
      'forbidden',
    );
  });

  it('a revoked invitation: its link stops working and the address is free again', async () => {
    const email = uniqueEmail('revoked');
    const since = t.mail.messages.length;
    const { user_id: userId } = (await (await invite({ email, reason: 'oops' })).json()) as {
      user_id: string;
    };
    const token = tokenIn(await nextMail(t, email, 'invitation', since));
    const revoke = await postJson(
      t,
      `/v1/admin/users/${userId}/invitation/revoke`,
      { reason: 'wrong person' },
      admin.auth,
    );
    expect(revoke.status).toBe(204);
    expect((await fetch(`${t.url}/set-password?token=${token}`)).status).toBe(400);
    await expectProblem(
      await postJson(t, '/v1/auth/set-password', { token, new_password: 'a-fine-first-password-7' }),
      400,
      'invalid-or-expired-token',
    );
    expect(await streamTypes(t.services, userStreamId(userId))).toEqual([
      'UserInvited',
      'InvitationRevoked',
      'UserErased',
    ]);
    expect((await invite({ email, reason: 'the right person now' })).status).toBe(201);
  });
});

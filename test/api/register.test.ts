import { canonicalEmail } from '../../src/application/canonical-email';
import { emailReservationStreamId } from '../../src/domain/email-reservation';
import { userStreamId } from '../../src/domain/user';
import { useTestApp, startTestApp, type TestApp } from '../support/app';
import {
  expectProblem,
  nextMail,
  register,
  registerVerified,
  STRONG_PASSWORD,
  tokenIn,
  userIdOfToken,
} from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, testClock, uniqueEmail, type TestClock } from '../support/session-fixtures';

const reservationOf = (t: TestApp, email: string) =>
  emailReservationStreamId(t.services.emailKeys.reservationKey(canonicalEmail(email) as string));

const typesOf = async (t: TestApp, streamId: string) =>
  (await t.services.store.readStream(streamId)).map((e) => e.type);

for (const backend of testBackends()) {
  describe(`POST /v1/auth/register (${backend.name})`, () => {
    let t: TestApp;
    let clock: TestClock;

    beforeAll(async () => {
      clock = testClock();
      t = await startTestApp(backend, { clock, env: { BOOTSTRAP_ADMIN_EMAIL: 'Boss@Example.com' } });
    });
    afterAll(() => t.close());

    it('answers 202 pending_verification and mails a verification link to the address', async () => {
      const email = uniqueEmail('new');
      const res = await postJson(t, '/v1/auth/register', {
        email,
        password: STRONG_PASSWORD,
        username: 'Ada',
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ status: 'pending_verification' });
      const mail = await nextMail(t, email, 'verification');
      expect(mail.text).toContain('http://identity.test/verify-email?token=');
      const userId = userIdOfToken(tokenIn(mail));
      expect(await typesOf(t, userStreamId(userId))).toEqual([
        'UserRegistered',
        'EmailVerificationRequested',
      ]);
    });

    it('keeps personal data and the password hash sealed in the events, and secrets out entirely', async () => {
      const r = await register(t, { username: 'Grace Hopper' });
      const events = await t.services.store.readStream(userStreamId(r.userId));
      const text = JSON.stringify(events);
      for (const secret of [r.email, 'Grace Hopper', r.password, r.token, '$argon2id']) {
        expect(text).not.toContain(secret);
      }
      const data = events[0]?.data as { email: string; username: string; passwordHash: string };
      expect(await t.services.vault.open(r.userId, data.email)).toBe(r.email);
      expect(await t.services.vault.open(r.userId, data.passwordHash)).toMatch(/^\$argon2id\$/);
      expect(events[0]?.metadata).toMatchObject({
        actor: { type: 'user', id: r.userId },
        schema_version: 1,
        correlation_id: expect.any(String),
        causation_id: expect.any(String),
      });
    });

    it('uses the request id as correlation and causation id', async () => {
      const email = uniqueEmail('corr');
      const res = await postJson(
        t,
        '/v1/auth/register',
        { email, password: STRONG_PASSWORD },
        { 'x-request-id': 'req-register-1' },
      );
      expect(res.status).toBe(202);
      const userId = userIdOfToken(tokenIn(await nextMail(t, email, 'verification')));
      const [registered] = await t.services.store.readStream(userStreamId(userId));
      expect(registered?.metadata).toMatchObject({
        correlation_id: 'req-register-1',
        causation_id: 'req-register-1',
      });
    });

    it('gives the same status and body for a new, a pending and a verified address (no enumeration)', async () => {
      const verified = await registerVerified(t);
      const pending = await register(t);
      const answers = [];
      for (const email of [uniqueEmail('fresh'), pending.email, verified.email]) {
        const res = await postJson(t, '/v1/auth/register', { email, password: 'another-fine-passphrase-42' });
        answers.push({ status: res.status, body: await res.text(), type: res.headers.get('content-type') });
      }
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    });

    it('tells the owner of a verified address that someone tried to sign up, and changes nothing', async () => {
      const owner = await registerVerified(t);
      const before = await typesOf(t, userStreamId(owner.userId));
      const since = t.mail.messages.length;
      const res = await postJson(t, '/v1/auth/register', {
        email: owner.email,
        password: 'squatter-passphrase-77',
      });
      expect(res.status).toBe(202);
      const notice = await nextMail(t, owner.email, 'signup-attempt', since);
      expect(notice.text).not.toContain('token=');
      expect(await typesOf(t, userStreamId(owner.userId))).toEqual([
        ...before,
        'DuplicateRegistrationAttempted',
      ]);
      // The old password still works; the attempt's does not.
      expect(
        (await postJson(t, '/v1/auth/login', { email: owner.email, password: owner.password })).status,
      ).toBe(200);
      expect(
        (await postJson(t, '/v1/auth/login', { email: owner.email, password: 'squatter-passphrase-77' }))
          .status,
      ).toBe(401);
    });

    it('replaces the password of a pending registration; the first link stays valid, no second mail in 60 s', async () => {
      const squatter = await register(t, { password: 'squatter-passphrase-01' });
      const since = t.mail.messages.length;
      const res = await postJson(t, '/v1/auth/register', {
        email: squatter.email,
        password: 'rightful-owner-passphrase',
      });
      expect(res.status).toBe(202);
      expect(await typesOf(t, userStreamId(squatter.userId))).toEqual([
        'UserRegistered',
        'EmailVerificationRequested',
        'PendingRegistrationReplaced',
      ]);
      expect((await postJson(t, '/v1/auth/verify-email', { token: squatter.token })).status).toBe(200);
      const login = (password: string) => postJson(t, '/v1/auth/login', { email: squatter.email, password });
      expect((await login('squatter-passphrase-01')).status).toBe(401);
      expect((await login('rightful-owner-passphrase')).status).toBe(200);
      expect(t.mail.messages.slice(since).filter((m) => m.to === squatter.email)).toEqual([]);
    });

    it('mails the same verification link again to a pending address once the throttle window passed', async () => {
      const first = await register(t);
      clock.advance(61_000);
      const since = t.mail.messages.length;
      await postJson(t, '/v1/auth/register', { email: first.email, password: 'second-try-passphrase' });
      expect(tokenIn(await nextMail(t, first.email, 'verification', since))).toBe(first.token);
    });

    it('refuses a weak password with 422 and every reason, without echoing it and without an account', async () => {
      const email = uniqueEmail('weak');
      const res = await postJson(t, '/v1/auth/register', { email, password: 'Zq9~kite' });
      const body = await expectProblem(res, 422, 'weak-password');
      expect(body.errors).toEqual([{ path: 'password', message: expect.any(String) }]);
      const containing = await postJson(t, '/v1/auth/register', { email, password: `${email}-and-more` });
      const body2 = await expectProblem(containing, 422, 'weak-password');
      expect(body2.errors?.map((e) => e.message).join(' ')).toContain('email');
      const common = await postJson(t, '/v1/auth/register', { email, password: 'passwordpassword' });
      await expectProblem(common, 422, 'weak-password');
      const long = await postJson(t, '/v1/auth/register', { email, password: 'x'.repeat(257) });
      await expectProblem(long, 422, 'weak-password');
      expect(JSON.stringify([body, body2])).not.toContain('Zq9~kite');
      expect(JSON.stringify(body2)).not.toContain(email);
      expect(await typesOf(t, reservationOf(t, email)).catch(() => 'none')).toBe('none');
    });

    it('folds case and spacing into one account: 20 racing registrations, one account, one verification mail', async () => {
      const local = `race.${Date.now().toString(36)}`;
      const variants = Array.from({ length: 20 }, (_, i) => {
        const mixed = [...`${local}@Example.COM`].map((c, j) => ((i >> (j % 5)) & 1 ? c.toUpperCase() : c));
        return `${i % 3 === 0 ? ' ' : ''}${mixed.join('')}`;
      });
      const canonical = `${local}@example.com`;
      const since = t.mail.messages.length;
      const answers = await Promise.all(
        variants.map((email, i) =>
          postJson(t, '/v1/auth/register', { email, password: `racing-passphrase-${i}-xyz` }).then(
            async (r) => ({
              status: r.status,
              body: await r.text(),
            }),
          ),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
      const reservation = await t.services.store.readStream(reservationOf(t, canonical));
      expect(reservation.map((e) => e.type)).toEqual(['EmailReserved']);
      const ownerId = (reservation[0]?.data as { userId: string }).userId;
      const userEvents = await typesOf(t, userStreamId(ownerId));
      expect(userEvents.filter((type) => type === 'UserRegistered')).toHaveLength(1);
      expect(userEvents.filter((type) => type === 'PendingRegistrationReplaced')).toHaveLength(19);
      await nextMail(t, canonical, 'verification', since);
      // Give a second mail every chance to show up: the consumer has seen every event, the outbox is drained.
      const [last] = (await t.services.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
      expect(await t.runtime.runner('mail-outbox')?.waitFor(last?.position ?? '', 5000)).toBe(true);
      await t.runtime.outbox.drainOnce();
      expect(t.mail.messages.slice(since).filter((m) => m.to === canonical)).toHaveLength(1);
      const all = await t.services.store.readAll({ filter: { eventTypePrefixes: ['UserRegistered'] } });
      const registrations = await Promise.all(
        all.events.map((e) =>
          t.services.vault.open(e.streamId.slice(5), (e.data as { email: string }).email),
        ),
      );
      expect(registrations.filter((address) => address === canonical)).toHaveLength(1);
    });

    it('replays a retried registration with the same Idempotency-Key, and refuses the key for another body', async () => {
      const email = uniqueEmail('idem');
      const key = { 'idempotency-key': `register-${email}` };
      const first = await postJson(t, '/v1/auth/register', { email, password: STRONG_PASSWORD }, key);
      expect(first.status).toBe(202);
      const retry = await postJson(t, '/v1/auth/register', { email, password: STRONG_PASSWORD }, key);
      expect(retry.status).toBe(202);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      const other = await postJson(t, '/v1/auth/register', { email, password: `${STRONG_PASSWORD}!` }, key);
      await expectProblem(other, 422, 'idempotency-key-reused');
      const userId = userIdOfToken(tokenIn(await nextMail(t, email, 'verification')));
      expect(await typesOf(t, userStreamId(userId))).toEqual([
        'UserRegistered',
        'EmailVerificationRequested',
      ]);
    });

    it('makes BOOTSTRAP_ADMIN_EMAIL an admin when it registers, recorded by the system with a reason', async () => {
      const r = await register(t, { email: 'boss@example.com' });
      const events = await t.services.store.readStream(userStreamId(r.userId));
      const grant = events.find((e) => e.type === 'RoleGranted');
      expect(grant?.data).toEqual({ role: 'admin' });
      expect(grant?.metadata).toMatchObject({
        actor: { type: 'system', id: 'bootstrap-admin' },
        reason: 'BOOTSTRAP_ADMIN_EMAIL',
      });
    });
  });

  describe(`POST /v1/auth/register with REGISTRATION_REVEALS_EXISTING (${backend.name})`, () => {
    const t = useTestApp(backend, { env: { REGISTRATION_REVEALS_EXISTING: 'true' } });

    it('answers 201 with the new user, and 409 conflict for a verified address', async () => {
      const email = uniqueEmail('reveal');
      const res = await postJson(t, '/v1/auth/register', {
        email,
        password: STRONG_PASSWORD,
        username: 'Lin',
      });
      expect(res.status).toBe(201);
      const { user } = (await res.json()) as { user: Record<string, unknown> };
      expect(user).toEqual({
        id: expect.any(String),
        email,
        username: 'Lin',
        email_verified: false,
        status: 'pending_verification',
        roles: [],
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      const token = tokenIn(await nextMail(t, email, 'verification'));
      expect((await postJson(t, '/v1/auth/verify-email', { token })).status).toBe(200);
      const again = await postJson(t, '/v1/auth/register', { email, password: STRONG_PASSWORD });
      await expectProblem(again, 409, 'conflict');
    });
  });

  describe(`POST /v1/auth/register without required verification (${backend.name})`, () => {
    const t = useTestApp(backend, { env: { REQUIRE_VERIFIED_EMAIL: 'false' } });

    it('starts the account active with its address taken as verified, and sends no verification mail', async () => {
      const email = uniqueEmail('noverify');
      const res = await postJson(t, '/v1/auth/register', { email, password: STRONG_PASSWORD });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ status: 'pending_verification' });
      const login = await postJson(t, '/v1/auth/login', { email, password: STRONG_PASSWORD });
      expect(login.status).toBe(200);
      const { access_token } = (await login.json()) as { access_token: string };
      const me = await fetch(`${t.url}/v1/users/me`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      expect(await me.json()).toMatchObject({ email, email_verified: true, status: 'active' });
      expect(t.mail.to(email)).toEqual([]);
    });
  });
}

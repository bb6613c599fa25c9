import { runRoleCommand } from '../../src/cli/roles';
import { userStreamId } from '../../src/domain/user';
import { listAdminIds } from '../../src/projections/user-directory/queries';
import { startTestApp, type TestApp } from '../support/app';
import { expectProblem, signedIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, userState } from '../support/session-fixtures';

/**
 * The service never loses its last admin (CONTRACT.md "Administration"): revoking `admin` from the
 * BOOTSTRAP_ADMIN_EMAIL address's account, or from the last active admin, is 409 `conflict` with a clear
 * detail, and the refused attempt is in the account's history with its actor and reason.
 */

const io = { out: () => undefined, err: () => undefined };

type Admin = Awaited<ReturnType<typeof signedIn>>;

const makeAdmin = async (t: TestApp, options: { email?: string } = {}): Promise<Admin> => {
  const a = await signedIn(t, options);
  expect(await runRoleCommand(t.services, 'grant', [a.userId, 'admin', '--reason', 'setup'], io)).toBe(0);
  return a;
};

/** The roster's candidates come from the user directory: wait until it shows these admins. */
const untilListed = async (t: TestApp, ...admins: Admin[]): Promise<void> => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ids = await listAdminIds(t.services.sql);
    if (admins.every((a) => ids.includes(a.userId))) return;
    if (Date.now() > deadline) throw new Error('the user directory did not list the admins in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

const revoke = (t: TestApp, actor: Admin, target: Admin, reason = 'tidying up roles') =>
  postJson(t, `/v1/admin/users/${target.userId}/roles/admin/revoke`, { reason }, actor.auth);

const holdsAdmin = async (t: TestApp, a: Admin): Promise<boolean> => {
  const { state } = await userState(t.services, a.userId);
  return state.status === 'active' && state.roles.includes('admin');
};

for (const backend of testBackends()) {
  describe(`revoking admin never leaves the service without one (${backend.name})`, () => {
    let t: TestApp;
    const BOOTSTRAP = 'root.admin@example.com';

    beforeEach(async () => {
      t = await startTestApp(backend, { env: { BOOTSTRAP_ADMIN_EMAIL: BOOTSTRAP } });
    });
    afterEach(() => t.close());

    it('refuses the last active admin their own revocation with 409, and records the attempt', async () => {
      const only = await makeAdmin(t);
      await untilListed(t, only);
      const body = await expectProblem(await revoke(t, only, only, 'leaving the team'), 409, 'conflict');
      expect((body as { detail?: string }).detail).toMatch(/last active admin/);
      expect(await holdsAdmin(t, only)).toBe(true);
      const [last] = (await t.services.store.readStream(userStreamId(only.userId))).slice(-1);
      expect(last?.type).toBe('AdminCommandRefused');
      expect(last?.data).toMatchObject({ command: 'RevokeRole', role: 'admin', rule: 'last_admin' });
      expect(last?.metadata).toMatchObject({
        reason: 'leaving the team',
        actor: { type: 'admin', id: only.userId },
      });
    });

    it('lets an admin give the role up while another active admin remains, then protects that one', async () => {
      const a = await makeAdmin(t);
      const b = await makeAdmin(t);
      await untilListed(t, a, b);
      expect((await revoke(t, a, a)).status).toBe(204);
      expect(await holdsAdmin(t, a)).toBe(false);
      await expectProblem(await revoke(t, b, b), 409, 'conflict');
      expect(await holdsAdmin(t, b)).toBe(true);
    });

    it('refuses to revoke admin from the bootstrap address, even with other admins', async () => {
      const root = await signedIn(t, { email: BOOTSTRAP });
      expect(await holdsAdmin(t, root)).toBe(true);
      const other = await makeAdmin(t);
      await untilListed(t, root, other);
      const body = await expectProblem(await revoke(t, other, root), 409, 'conflict');
      expect((body as { detail?: string }).detail).toMatch(/BOOTSTRAP_ADMIN_EMAIL/);
      expect(await holdsAdmin(t, root)).toBe(true);
      const refused = (await t.services.store.readStream(userStreamId(root.userId))).filter(
        (e) => e.type === 'AdminCommandRefused',
      );
      expect(refused.map((e) => e.data)).toEqual([
        expect.objectContaining({ rule: 'bootstrap_admin', role: 'admin' }),
      ]);
      expect(refused[0]?.metadata).toMatchObject({ actor: { type: 'admin', id: other.userId } });
      // The CLI is held to the same rule.
      expect(await runRoleCommand(t.services, 'revoke', [BOOTSTRAP, 'admin', '--reason', 'x'], io)).toBe(1);
      expect(await holdsAdmin(t, root)).toBe(true);
    });

    it('two admins revoking each other at once: exactly one revocation goes through', async () => {
      const x = await makeAdmin(t);
      const y = await makeAdmin(t);
      await untilListed(t, x, y);
      const answers = await Promise.all([revoke(t, x, y), revoke(t, y, x)]);
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 204)).toHaveLength(1);
      expect(statuses.every((s) => [204, 403, 409].includes(s))).toBe(true);
      expect([await holdsAdmin(t, x), await holdsAdmin(t, y)].filter(Boolean)).toHaveLength(1);
    });

    it('refuses the CLI the last admin too, and other roles stay free to revoke', async () => {
      const only = await makeAdmin(t);
      await untilListed(t, only);
      const lines: string[] = [];
      const capture = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
      expect(
        await runRoleCommand(t.services, 'revoke', [only.email, 'admin', '--reason', 'oops'], capture),
      ).toBe(1);
      expect(lines.join('\n')).toMatch(/refused: .*last active admin/);
      expect(await holdsAdmin(t, only)).toBe(true);
      expect(
        await runRoleCommand(t.services, 'grant', [only.email, 'pii:read', '--reason', 'audit'], io),
      ).toBe(0);
      expect(
        await runRoleCommand(t.services, 'revoke', [only.email, 'pii:read', '--reason', 'done'], io),
      ).toBe(0);
    });
  });
}

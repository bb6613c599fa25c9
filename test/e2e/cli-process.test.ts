/**
 * The `identity` command line as a process: `--version`, per-command `--help`, errors that name the bad
 * value before any store is opened, and the admin commands through a running service's admin API (`--url`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRoleCommand } from '../../src/cli/roles';
import { startTestApp, type TestApp } from '../support/app';
import { signedIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { loginAs } from '../support/session-fixtures';

const REPO = path.resolve(__dirname, '../..');

const cli = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(
      process.execPath,
      ['-r', require.resolve('tsx/cjs'), 'src/cli.ts', ...args],
      // A data directory that does not exist: a command that opened the store would create it.
      { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, timeout: 60_000 },
      (error, out, err) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });

describe('identity command line', () => {
  const dataDir = path.join(os.tmpdir(), `identity-cli-untouched-${process.pid}`);

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      version: string;
    };
    const r = await cli(['--version']);
    expect(r).toMatchObject({ code: 0, out: `identity ${version}\n` });
  }, 60_000);

  it('each command has --help; `help <command>` says the same', async () => {
    const r = await cli(['state', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage: identity state <user id | email> [options]');
    expect(r.out).toContain('--as-of <time | position>');
    expect((await cli(['help', 'state'])).out).toBe(r.out);
  }, 60_000);

  it('state --as-of yesterday names the value, exits 2 and opens no store', async () => {
    const r = await cli(['state', 'ada@example.com', '--as-of', 'yesterday'], { DATA_DIR: dataDir });
    expect(r.code).toBe(2);
    expect(r.err).toContain('--as-of "yesterday" is neither an RFC 3339 time');
    expect(() => readFileSync(path.join(dataDir, 'keys', 'master.key'))).toThrow();
  }, 60_000);

  it('an unknown option is named', async () => {
    const r = await cli(['events', 'tail', '--form', 'x'], { DATA_DIR: dataDir });
    expect(r.code).toBe(2);
    expect(r.err).toContain('identity events tail: unknown option --form');
  }, 60_000);
});

describe('admin commands through a running service (--url)', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    const [embedded] = testBackends();
    t = await startTestApp(embedded!);
    dir = mkdtempSync(path.join(os.tmpdir(), 'identity-cli-'));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants and revokes a role over the admin API while the service holds its store', async () => {
    const admin = await signedIn(t);
    const io = { out: () => undefined, err: () => undefined };
    expect(await runRoleCommand(t.services, 'grant', [admin.userId, 'admin', '--reason', 'setup'], io)).toBe(
      0,
    );
    // A fresh login: the token now carries the admin role.
    const tokens = await loginAs(t, admin);
    const target = await signedIn(t);
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, tokens.access_token);

    const granted = await cli([
      'roles',
      'grant',
      target.email,
      'events:read',
      '--reason',
      'feed consumer',
      '--url',
      t.url,
      '--token-file',
      tokenFile,
    ]);
    expect(granted.err).toBe('');
    expect(granted).toMatchObject({ code: 0 });
    expect(granted.out).toContain(`events:read granted to user ${target.userId}`);
    const view = await fetch(`${t.url}/v1/admin/users/${target.userId}`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(((await view.json()) as { roles: string[] }).roles).toContain('events:read');

    const state = await cli(['state', target.userId, '--url', t.url], {
      IDENTITY_TOKEN: tokens.access_token,
    });
    expect(state.code).toBe(0);
    expect(JSON.parse(state.out)).toMatchObject({ roles: expect.arrayContaining(['events:read']) });

    const revoked = await cli(
      ['roles', 'revoke', target.userId, 'events:read', '--reason', 'done', '--url', t.url],
      { IDENTITY_TOKEN: tokens.access_token },
    );
    expect(revoked.code).toBe(0);

    const refused = await cli(['roles', 'grant', target.userId, 'admin', '--reason', 'x', '--url', t.url], {
      IDENTITY_TOKEN: 'not-a-token',
    });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused by http:\/\/127\.0\.0\.1:\d+: 401/);
  }, 120_000);
});

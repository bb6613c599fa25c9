/**
 * The compose demo's reverse proxy (deploy/nginx/identity-server.conf) run by Debian's nginx in front of two
 * local instances of the service on one store: requests reach both, a session started through one is
 * refreshed through the other, /metrics stays private, the client address reaches the service. Without
 * nginx the test is skipped with a notice, except with CI=true, where it fails (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestApp, type TestApp } from '../support/app';
import { registerVerified } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { freePort } from '../support/local-servers';
import { tool } from '../support/tools';

const SERVER_CONF = path.resolve(__dirname, '../../deploy/nginx/identity-server.conf');
const nginx = tool('nginx', 'apt-get install nginx-light', 'reverse-proxy test', ['/usr/sbin/nginx']);

(nginx.run ? describe : describe.skip)('nginx in front of two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let proxy: ChildProcess | undefined;
  let dir: string;
  let url: string;
  let log = '';

  beforeAll(async () => {
    const binary = nginx.need();
    const [embedded] = testBackends();
    // TRUST_PROXY=1 as in the compose file: the address nginx saw is the client's.
    a = await startTestApp(embedded!, { env: { TRUST_PROXY: '1' } });
    b = await startTestApp(embedded!, { env: { TRUST_PROXY: '1' }, db: a.db });
    dir = mkdtempSync(path.join(os.tmpdir(), 'identity-nginx-'));
    mkdirSync(path.join(dir, 'logs'));
    const port = await freePort();
    const server = (t: TestApp) => `server ${new URL(t.url).host};`;
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      [
        ...(process.getuid?.() === 0 ? ['user root;'] : []),
        'daemon off;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        'error_log stderr warn;',
        'events { worker_connections 64; }',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((p) => `  ${p}_temp_path ${dir}/${p};`),
        `  upstream identity { ${server(a)} ${server(b)} keepalive 4; }`,
        // The shipped server block, listening where the test says.
        `  include ${dir}/server.conf;`,
        '}',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'server.conf'),
      readFileSync(SERVER_CONF, 'utf8').replace('listen 8080;', `listen 127.0.0.1:${port};`),
    );
    proxy = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proxy.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await fetch(`${url}/health/live`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (proxy.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);

  afterAll(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGQUIT');
      await exited;
    }
    await b?.close();
    await a?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const served = async (t: TestApp): Promise<number> => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    return text
      .split('\n')
      .filter(
        (l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('route="/health/live"'),
      )
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  it('spreads requests over both instances and keeps /metrics off the public address', async () => {
    const before = [await served(a), await served(b)];
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/health/live`)).status).toBe(200);
    const after = [await served(a), await served(b)];
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect(after[1]! - before[1]!).toBeGreaterThan(0);
    expect(after[0]! + after[1]! - before[0]! - before[1]!).toBe(10);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });

  it('one address for a whole session: login and refreshes land on either instance', async () => {
    const account = await registerVerified(a);
    const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const login = await post('/v1/auth/login', { email: account.email, password: account.password });
    expect(login.status).toBe(200);
    let tokens = (await login.json()) as { access_token: string; refresh_token: string };
    for (let i = 0; i < 4; i++) {
      const refreshed = await post('/v1/auth/refresh', { refresh_token: tokens.refresh_token });
      expect(refreshed.status).toBe(200);
      tokens = (await refreshed.json()) as typeof tokens;
    }
    const me = await fetch(`${url}/v1/users/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(me.status).toBe(200);
    // The request id a caller sends passes through the proxy and comes back.
    const traced = await fetch(`${url}/health/live`, { headers: { 'x-request-id': 'through-the-proxy' } });
    expect(traced.headers.get('x-request-id')).toBe('through-the-proxy');
  }, 60_000);
});

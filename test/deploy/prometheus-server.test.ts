/**
 * The real Prometheus server (Debian's `prometheus` package) scrapes a running service and evaluates the
 * shipped rules (deploy/prometheus/): when the test stops mail (the service's mailer fails every send),
 * IdentityMailStopped fires. The rules are the shipped ones, loaded with a 1 s evaluation interval and
 * their `for:` durations set to zero so the test runs in seconds; expressions and thresholds are unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { freePort } from '../support/local-servers';
import { postJson, uniqueEmail } from '../support/session-fixtures';
import { tool } from '../support/tools';

const DIR = path.resolve(__dirname, '../../deploy/prometheus');
const prometheus = tool('prometheus', 'apt-get install prometheus', 'Prometheus server test');

type RuleFile = { groups: { name: string; interval?: string; rules: { for?: string }[] }[] };

/** The shipped rule file, evaluated every second, with every alert firing as soon as it is true. */
const fastCopy = (file: string, dir: string): string => {
  const rules = parse(readFileSync(path.join(DIR, file), 'utf8')) as RuleFile;
  for (const g of rules.groups) {
    g.interval = '1s';
    for (const r of g.rules) if (r.for !== undefined) r.for = '0s';
  }
  const out = path.join(dir, file);
  writeFileSync(out, stringify(rules));
  return out;
};

type Alert = { labels: Record<string, string>; state: string };

(prometheus.run ? describe : describe.skip)('Prometheus against a running service', () => {
  let t: TestApp;
  let server: ChildProcess | undefined;
  let dir: string;
  let api: string;
  let log = '';

  beforeAll(async () => {
    const binary = prometheus.need();
    const [embedded] = testBackends();
    t = await startTestApp(embedded!);
    dir = mkdtempSync(path.join(os.tmpdir(), 'identity-prometheus-'));
    const ruleFiles = ['recording.yml', 'alerts.yml'].map((f) => fastCopy(f, dir));
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: 'identity', static_configs: [{ targets: [new URL(t.url).host] }] }],
    };
    writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v1`;
    server = spawn(
      binary,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  }, 60_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = await probe().catch(() => undefined);
      if (found !== undefined) return found;
      if (server?.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
      if (Date.now() > deadline) throw new Error(`${what}: not in time\n${log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const alerts = async (): Promise<Alert[]> => {
    const res = await fetch(`${api}/alerts`);
    return ((await res.json()) as { data: { alerts: Alert[] } }).data.alerts;
  };

  it('scrapes /metrics and fires IdentityMailStopped when every send fails', async () => {
    // The target is up and the service's own series are in Prometheus.
    await until('the service scraped', async () => {
      const res = await fetch(`${api}/query?query=${encodeURIComponent('identity_ready{job="identity"}')}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1] === '1' ? true : undefined;
    });
    expect((await alerts()).filter((a) => a.labels.alertname === 'IdentityMailStopped')).toEqual([]);

    t.mail.failWith = new Error('connection refused');
    for (let i = 0; i < 3; i++) {
      const res = await postJson(t, '/v1/auth/register', {
        email: uniqueEmail('mail-stopped'),
        password: 'plum-violet-harbour-9417',
      });
      expect(res.status).toBe(202);
    }
    const firing = await until('IdentityMailStopped firing', async () =>
      (await alerts()).find((a) => a.labels.alertname === 'IdentityMailStopped' && a.state === 'firing'),
    );
    expect(firing.labels).toMatchObject({ job: 'identity', severity: 'page' });
    // The backlog the failures leave shows too (the outbox gauges, scraped from the service).
    const res = await fetch(`${api}/query?query=${encodeURIComponent('identity:mail_outbox_pending:max')}`);
    const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
    expect(Number(body.data.result[0]?.value[1])).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

import { rebuildDeps } from '../../src/infrastructure/projections';
import { rebuildProjection, findProjection } from '../../src/projections';
import { startTestApp, type TestApp } from '../support/app';
import { registerVerified } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, uniqueEmail } from '../support/session-fixtures';

const scrape = async (t: TestApp): Promise<string> => (await fetch(`${t.url}/metrics`)).text();

/** The value of one sample line, e.g. `identity_mail_outbox_pending`; undefined when absent. */
const sample = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

const until = async (what: string, predicate: () => Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

for (const backend of testBackends()) {
  describe(`operations metrics on ${backend.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(backend);
    });
    afterAll(() => t.close());

    it('the mail outbox backlog, its retrying rows and the oldest age follow a mail server that is down', async () => {
      await until('ready', async () => sample(await scrape(t), 'identity_ready') === 1);
      let text = await scrape(t);
      expect(sample(text, 'identity_mail_outbox_pending')).toBe(0);
      expect(sample(text, 'identity_mail_outbox_oldest_age_seconds')).toBe(0);
      expect(sample(text, 'identity_ready_check{check="database"}')).toBe(1);

      t.mail.failWith = new Error('connection refused');
      const res = await postJson(t, '/v1/auth/register', {
        email: uniqueEmail('outbox'),
        password: 'plum-violet-harbour-9417',
      });
      expect(res.status).toBe(202);
      await until('a failed send', async () => {
        text = await scrape(t);
        return (sample(text, 'identity_mail_outbox_retrying') ?? 0) >= 1;
      });
      expect(sample(text, 'identity_mail_outbox_pending')).toBe(1);
      expect(sample(text, 'identity_emails_total{kind="verification",result="failed"}')).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 1100));
      expect(sample(await scrape(t), 'identity_mail_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(1);

      t.mail.failWith = null;
      await until(
        'the backlog drained',
        async () => {
          text = await scrape(t);
          return sample(text, 'identity_mail_outbox_pending') === 0;
        },
        90_000,
      );
      expect(sample(text, 'identity_mail_outbox_oldest_age_seconds')).toBe(0);
      expect(sample(text, 'identity_emails_total{kind="verification",result="sent"}')).toBe(1);
    }, 120_000);

    it('a rebuild in progress shows in the registry gauges; the events it applies are counted', async () => {
      await registerVerified(t);
      const projection = findProjection('user-directory')!;
      await until('the registry row', async () =>
        (await scrape(t)).includes('identity_projection_rebuild_in_progress{projection="user-directory"} 0'),
      );

      // A build recorded in the registry (as a CLI rebuild in another process leaves it) shows at once.
      await t.services.sql.query(
        `update projections set building_version = version, building_tag = 'metrics_probe',
           building_tables = '{}', building_started_at = now() - interval '5 minutes'
         where name = 'user-directory'`,
      );
      let text = await scrape(t);
      expect(sample(text, 'identity_projection_rebuild_in_progress{projection="user-directory"}')).toBe(1);
      const started = text.match(
        /identity_projection_rebuild_started_timestamp_seconds\{projection="user-directory",version="\d+"\} (\S+)/,
      );
      expect(Number(started?.[1])).toBeLessThan(Date.now() / 1000 - 250);

      // A real rebuild (it replaces the probe's leftover build) feeds the events counter page by page.
      const result = await rebuildProjection(rebuildDeps(t.services), projection, {
        pageSize: 1,
        onProgress: (p) => t.services.metrics.rebuildApplied(p.projection, p.events),
      });
      expect(result.events).toBeGreaterThan(1);
      text = await scrape(t);
      expect(sample(text, 'identity_projection_rebuild_in_progress{projection="user-directory"}')).toBe(0);
      expect(text).not.toMatch(/identity_projection_rebuild_started_timestamp_seconds\{projection="user-dir/);
      expect(sample(text, 'identity_projection_rebuild_events_total{projection="user-directory"}')).toBe(
        result.events,
      );
    }, 60_000);
  });
}

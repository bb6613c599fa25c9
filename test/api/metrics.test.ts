import { startTestApp, type TestApp } from '../support/app';
import { registerVerified } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { loginAs, postJson } from '../support/session-fixtures';

const scrape = async (t: TestApp): Promise<string> => {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};

/** The value of one sample line, e.g. `identity_logins_total{outcome="success"}`; 0 when absent. */
const sample = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
};

for (const backend of testBackends()) {
  describe(`metrics on ${backend.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(backend);
    });
    afterAll(() => t.close());

    it('counts login outcomes, lockouts, mail, appends and request durations by route pattern', async () => {
      const account = await registerVerified(t);
      await loginAs(t, account);
      for (let i = 0; i < 5; i++) {
        const res = await postJson(t, '/v1/auth/login', {
          email: account.email,
          password: 'wrong password 123',
        });
        expect(res.status).toBe(401);
      }
      const locked = await postJson(t, '/v1/auth/login', {
        email: account.email,
        password: account.password,
      });
      expect(locked.status).toBe(401);

      const text = await scrape(t);
      expect(sample(text, 'identity_logins_total{outcome="success"}')).toBe(1);
      expect(sample(text, 'identity_logins_total{outcome="invalid_credentials"}')).toBe(5);
      expect(sample(text, 'identity_logins_total{outcome="locked"}')).toBe(1);
      expect(sample(text, 'identity_lockouts_total')).toBe(1);
      expect(sample(text, 'identity_emails_total{kind="verification",result="sent"}')).toBe(1);
      expect(sample(text, 'identity_events_appended_total{type="UserRegistered"}')).toBe(1);
      expect(sample(text, 'identity_event_append_duration_seconds_count{result="ok"}')).toBeGreaterThan(5);
      // Route patterns, never raw URLs (a path or query can carry a token).
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="POST",route="\/v1\/auth\/login",status="401"\} 6/,
      );
      expect(text).toMatch(/identity_subscription_lag_seconds\{subscription="[^"]+"\} \d/);
      expect(text).toMatch(/identity_subscription_failures\{subscription="[^"]+"\} 0/);
      expect(text).not.toContain(account.email);
    });
  });
}

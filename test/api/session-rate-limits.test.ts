import { useTestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { postJson } from '../support/session-fixtures';

for (const backend of testBackends()) {
  describe(`per-IP rate limits on login and refresh (${backend.name})`, () => {
    const t = useTestApp(backend, {
      env: {
        RATE_LIMITS_ENABLED: 'true',
        RATE_LIMIT_LOGIN_PER_MINUTE: '3',
        RATE_LIMIT_REFRESH_PER_MINUTE: '4',
      },
    });

    const expectLimited = async (res: Response): Promise<void> => {
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await res.json()) as { code: string }).code).toBe('rate-limited');
    };

    it('refuses the login after the configured number per minute, failures included', async () => {
      const attempt = () =>
        postJson(t, '/v1/auth/login', { email: 'nobody@example.com', password: 'whatever' });
      for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
      await expectLimited(await attempt());
    });

    it('counts refresh in its own bucket', async () => {
      const attempt = () => postJson(t, '/v1/auth/refresh', { refresh_token: 'A'.repeat(70) });
      for (let i = 0; i < 4; i++) expect((await attempt()).status).toBe(401);
      await expectLimited(await attempt());
    });
  });
}

import { ConfigError, loadConfig } from '../../../src/infrastructure/config';

describe('CORS_ALLOWED_ORIGINS, EMAIL_LINK_BASE_URL, APP_URL', () => {
  it('takes exact origins only', () => {
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: 'https://a.example, http://localhost:5173' }).cors).toEqual({
      allowedOrigins: ['https://a.example', 'http://localhost:5173'],
      maxAgeSeconds: 600,
    });
    for (const bad of ['*', 'https://a.example/app', 'a.example', 'ftp://a.example', 'https://*.a.example']) {
      expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: bad })).toThrow(ConfigError);
    }
    expect(loadConfig({}).cors.allowedOrigins).toEqual([]);
  });

  it('mailed links default to PUBLIC_URL; APP_URL is optional', () => {
    const c = loadConfig({ PUBLIC_URL: 'https://id.example.com/' });
    expect(c.emailLinkBaseUrl).toBe('https://id.example.com');
    expect(c.appUrl).toBeUndefined();
    const d = loadConfig({
      PUBLIC_URL: 'https://id.example.com',
      EMAIL_LINK_BASE_URL: 'https://app.example.com/auth/',
    });
    expect(d.emailLinkBaseUrl).toBe('https://app.example.com/auth');
    expect(() => loadConfig({ APP_URL: 'javascript:alert(1)' })).toThrow(ConfigError);
  });
});

/**
 * Access tokens for a service account (an account holding `events:read`, and `pii:read` if the service
 * needs addresses): signs in once, then rotates the refresh token shortly before each access token
 * expires, and signs in again if the session was ended (a password change, a revoked session).
 */
export const serviceAccountTokens = (options: {
  baseUrl: string;
  email: string;
  password: string;
  fetch?: typeof fetch;
}): (() => Promise<string>) => {
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const doFetch = options.fetch ?? fetch;
  let current: { access: string; refresh: string; renewAt: number } | null = null;

  const post = async (path: string, body: object) => {
    const res = await doFetch(new URL(path, base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) return null;
    const answer = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    // Renew at 80 % of the lifetime, so a request never leaves with a token about to expire.
    return {
      access: answer.access_token,
      refresh: answer.refresh_token,
      renewAt: Date.now() + answer.expires_in * 800,
    };
  };

  return async () => {
    if (current && Date.now() < current.renewAt) return current.access;
    current =
      (current && (await post('v1/auth/refresh', { refresh_token: current.refresh }))) ??
      (await post('v1/auth/login', { email: options.email, password: options.password }));
    if (!current) throw new Error('the identity service refused the service account');
    return current.access;
  };
};

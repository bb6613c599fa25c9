import { readFileSync } from 'node:fs';
import { UsageError, type Parsed } from './args';
import type { CliOption } from './command';

/**
 * The admin API of a running service, for the commands that can go through it (`--url`): granting a role
 * on the embedded store then needs no downtime, since only the service holds its data directory. The
 * token is an access token of an account holding `admin`, read from IDENTITY_TOKEN or `--token-file` (never
 * an argument: those show in `ps`).
 */
export const REMOTE_OPTIONS: Record<string, CliOption> = {
  url: {
    type: 'string',
    value: '<base URL>',
    description:
      'go through the admin API of the running service there (token: IDENTITY_TOKEN or --token-file)',
  },
  'token-file': {
    type: 'string',
    value: '<path>',
    description: 'a file holding the admin access token for --url',
  },
};

export type RemoteAdmin = {
  url: string;
  /** GET or POST a JSON path of the admin API; the answer's status and JSON body. */
  call: (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;
};

/** The remote admin the options ask for, or null (work on the stores directly). */
export const remoteAdmin = (
  parsed: Parsed,
  env: NodeJS.ProcessEnv = process.env,
  fetchImpl: typeof fetch = fetch,
): RemoteAdmin | null => {
  const url = parsed.values.url as string | undefined;
  const tokenFile = parsed.values['token-file'] as string | undefined;
  if (url === undefined) {
    if (tokenFile !== undefined) throw new UsageError('--token-file goes with --url');
    return null;
  }
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new UsageError(`--url "${url}": must be http:// or https://`);
  }
  let token = env.IDENTITY_TOKEN;
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      throw new UsageError(`--token-file "${tokenFile}" cannot be read`);
    }
  }
  if (!token)
    throw new UsageError('--url needs an admin access token: set IDENTITY_TOKEN or pass --token-file');
  const root = base.toString().replace(/\/+$/, '');
  return {
    url: root,
    call: async (method, path, body) => {
      const res = await fetchImpl(`${root}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = text;
      }
      return { status: res.status, body: json };
    },
  };
};

/** A problem+json answer as one line: `403 forbidden: The admin role is required`. */
export const problemLine = (status: number, body: unknown): string => {
  const p = (body ?? {}) as { title?: string; detail?: string; code?: string; type?: string };
  const what = p.code ?? p.title ?? 'error';
  return `${status} ${what}${p.detail ? `: ${p.detail}` : ''}`;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A user id as given, or the id of the account with that address, through the admin API. */
export const remoteUserId = async (remote: RemoteAdmin, target: string): Promise<string | null> => {
  if (UUID.test(target)) return target.toLowerCase();
  const res = await remote.call('GET', `/v1/admin/users?email=${encodeURIComponent(target)}&limit=1`);
  if (res.status !== 200) throw new Error(problemLine(res.status, res.body));
  const users = (res.body as { users?: { id: string }[] }).users ?? [];
  return users[0]?.id ?? null;
};

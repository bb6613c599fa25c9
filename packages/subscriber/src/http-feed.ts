import { feedPageSchema } from './events';
import { sleep, type FeedSource } from './source';

export type HttpFeedOptions = {
  /** The identity service, e.g. `https://id.example.com` (a path prefix is kept). */
  baseUrl: string;
  /**
   * A bearer access token of an account holding `events:read` (and `pii:read` to see personal data).
   * Called before every request, so a provider that caches and refreshes its token fits here.
   */
  getAccessToken: () => string | Promise<string>;
  /** Events per request, 1-200 (default 200). */
  limit?: number;
  /** After a request that found nothing new, wait this long, doubling from `minMs` to `maxMs` (250 ms, 5 s). */
  idle?: { minMs?: number; maxMs?: number };
  fetch?: typeof fetch;
};

/** The service refused or failed a feed request; `code` is its problem+json code when it gave one. */
export class FeedRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    /** From the answer's `Retry-After` (429, 503): `subscribe` waits at least this long. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`event feed request failed: ${status}${code ? ` ${code}` : ''}`);
    this.name = 'FeedRequestError';
  }
}

/**
 * The feed over HTTP, on any backend: `GET /v1/events?after=&limit=&types=`, page after page. A full page
 * is followed at once; an empty one is followed after an idle wait that grows while nothing happens and
 * drops back as soon as something does, so an idle subscriber costs a request every few seconds and a busy
 * one trails the service by about `idle.minMs`.
 */
export const httpFeed = (options: HttpFeedOptions): FeedSource => {
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const limit = options.limit ?? 200;
  const minIdle = options.idle?.minMs ?? 250;
  const maxIdle = options.idle?.maxMs ?? 5000;
  const doFetch = options.fetch ?? fetch;
  return {
    async *read({ after, types, signal }) {
      let cursor = after;
      let idle = minIdle;
      while (!signal.aborted) {
        const url = new URL('v1/events', base);
        if (cursor !== null) url.searchParams.set('after', cursor);
        url.searchParams.set('limit', String(limit));
        if (types?.length) url.searchParams.set('types', types.join(','));
        const res = await doFetch(url, {
          headers: {
            authorization: `Bearer ${await options.getAccessToken()}`,
            accept: 'application/json',
          },
          signal,
        });
        if (!res.ok) throw await requestError(res);
        const page = feedPageSchema.parse(await res.json());
        for (const event of page.events) yield { kind: 'event', event };
        const last = (page.events.at(-1) as { position?: string } | undefined)?.position ?? cursor;
        if (page.next_cursor !== null && (last === null || page.next_cursor > last)) {
          yield { kind: 'checkpoint', position: page.next_cursor };
        }
        const moved = page.next_cursor !== null && page.next_cursor !== cursor;
        cursor = page.next_cursor ?? cursor;
        if (page.events.length >= limit) continue;
        if (moved) idle = minIdle;
        await sleep(idle, signal);
        if (!moved) idle = Math.min(maxIdle, idle * 2);
      }
    },
  };
};

const requestError = async (res: Response): Promise<FeedRequestError> => {
  let code: string | undefined;
  try {
    const body = (await res.json()) as { code?: unknown };
    if (typeof body.code === 'string') code = body.code;
  } catch {
    // Not problem+json (a proxy's error page): the status says enough.
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  return new FeedRequestError(
    res.status,
    code,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  );
};

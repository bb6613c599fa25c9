import { once } from 'node:events';
import type { Server } from 'node:net';
import type { Request, Response } from 'express';
import type { EventFilter, EventStore, Position } from '../../application/event-store';
import { presentEvent } from '../../application/events/present';
import {
  InvalidAccessTokenError,
  type AccessTokens,
  type Clock,
  type PersonalDataVault,
} from '../../application/ports';
import { checkAccessToken, type Authenticated } from '../../application/session/session-check';
import { authOf } from '../authenticate';

export type StreamDeps = {
  store: EventStore;
  vault: PersonalDataVault;
  accessTokens: AccessTokens;
  clock: Clock;
  /** Exclusive start position; undefined = from the beginning. */
  from: Position | undefined;
  filter: EventFilter;
  revealPersonalData: boolean;
  /** Whether a fresh check of the caller's token still allows this very stream (roles may have changed). */
  stillAllowed: (auth: Authenticated) => boolean;
  heartbeatMs: number;
  shutdown: AbortSignal | undefined;
};

/** How often the stream looks for a shutdown that no signal announced (see `serverStopped`). */
const SHUTDOWN_CHECK_MS = 1000;

/**
 * `GET /v1/events/stream`: the feed as server-sent events (WHATWG HTML, "Server-sent events"). Catch-up from
 * the start position, then live, through the store's subscription, so the order and the no-skip guarantee
 * are the store's own.
 *
 * - Each event is `id: <position>`, `event: <type>`, `data: <event JSON>`. When the filter passes over
 *   events, a frame with only `id:` moves the client's last event id past them (the spec sets it on every
 *   dispatch, data or not), so a reconnect resumes from where the server had looked, not from the last match.
 * - `: keep-alive` comments every `heartbeatMs` on an idle stream. At each one the caller's token is checked
 *   again (session alive, user active, `events:read` still held, `pii:read` unchanged): a stream is not a way
 *   to keep reading after a logout or a revoked role. The stream ends when the access token expires; the
 *   client reconnects with a fresh token and `Last-Event-ID`, and loses nothing.
 * - It ends on client disconnect, on `shutdown`, and when the HTTP server stops listening, which is how a
 *   graceful shutdown shows here when no signal was wired: the server waits for open responses to finish,
 *   so a stream that never ends would hold the shutdown until its timeout.
 */
export const streamEvents = async (req: Request, res: Response, deps: StreamDeps): Promise<void> => {
  const auth = authOf(res);
  const token = (req.get('authorization') ?? '').trim().replace(/^Bearer[ ]+/i, '');
  const { revealPersonalData } = deps;
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  const signal = ac.signal;
  // The response's 'close' also fires when the client goes away; the request's fires once it is read.
  res.on('close', stop);
  deps.shutdown?.addEventListener('abort', stop, { once: true });
  if (deps.shutdown?.aborted) stop();
  const server = (req.socket as { server?: Server }).server;

  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Connection', 'keep-alive');
  // Reverse proxies (nginx) would otherwise buffer the stream and deliver events in bursts.
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();

  let lastWrite = Date.now();
  const write = async (chunk: string): Promise<void> => {
    if (signal.aborted || res.writableEnded) return;
    lastWrite = Date.now();
    // Backpressure: a slow client holds the catch-up back instead of filling this process's memory.
    if (!res.write(chunk)) await once(res, 'drain', { signal }).catch(() => undefined);
  };

  let checking = false;
  const recheck = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      if (!deps.stillAllowed(await checkAccessToken(deps, token))) stop();
    } catch (e) {
      // A refused token ends the stream; a store that is down is left to the subscription to report.
      if (e instanceof InvalidAccessTokenError) stop();
    } finally {
      checking = false;
    }
  };

  const tick = setInterval(
    () => {
      if (server && !server.listening) return stop();
      if (Date.now() - lastWrite < deps.heartbeatMs) return;
      void write(': keep-alive\n\n');
      void recheck();
    },
    Math.min(deps.heartbeatMs, SHUTDOWN_CHECK_MS),
  );
  const expiresInMs = auth.claims.exp * 1000 - deps.clock.now().getTime();
  const expiry = setTimeout(stop, Math.max(0, Math.min(expiresInMs, 2 ** 31 - 1)));

  let lastId: Position | undefined = deps.from;
  try {
    await write(': connected\n\n');
    for await (const message of deps.store.subscribeToAll({ from: deps.from, filter: deps.filter, signal })) {
      if (message.kind === 'event') {
        const json = await presentEvent(message.event, { vault: deps.vault, revealPersonalData });
        await write(`id: ${json.position}\nevent: ${json.type}\ndata: ${JSON.stringify(json)}\n\n`);
        lastId = message.event.position;
      } else if (message.position !== undefined && (lastId === undefined || message.position > lastId)) {
        await write(`id: ${message.position}\n\n`);
        lastId = message.position;
      }
    }
  } catch (e) {
    // The headers are gone: the only way to say "failed" is to end; the client reconnects from its last id.
    if (!signal.aborted) req.log.warn({ err: (e as Error)?.message }, 'event stream ended by a failure');
  } finally {
    clearInterval(tick);
    clearTimeout(expiry);
    res.off('close', stop);
    deps.shutdown?.removeEventListener('abort', stop);
    if (!res.writableEnded) res.end();
  }
};

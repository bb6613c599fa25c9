/**
 * A minimal server-sent events client for tests (WHATWG HTML, "Server-sent events" parsing): frames as
 * the server wrote them, comments included, so tests can see heartbeats and id-only frames.
 */
export type SseFrame = { id?: string; event?: string; data?: string; comments: string[] };

export type SseConnection = {
  status: number;
  headers: Headers;
  frames: SseFrame[];
  /** Resolves when the server ends the response (or the connection breaks). */
  ended: Promise<void>;
  isEnded: () => boolean;
  waitFor: (predicate: (frames: SseFrame[]) => boolean, timeoutMs?: number) => Promise<void>;
  close: () => void;
};

const parseFrame = (block: string): SseFrame => {
  const frame: SseFrame = { comments: [] };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      frame.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
  }
  return frame;
};

export const connectSse = async (
  url: string,
  headers: Record<string, string> = {},
): Promise<SseConnection> => {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const frames: SseFrame[] = [];
  let ended = false;
  const pump = async (): Promise<void> => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          frames.push(parseFrame(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close(), or the connection broke: either way the stream is over.
    } finally {
      ended = true;
    }
  };
  const endedPromise = pump();
  return {
    status: res.status,
    headers: res.headers,
    frames,
    ended: endedPromise,
    isEnded: () => ended,
    waitFor: async (predicate, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(frames)) {
        if (Date.now() > deadline)
          throw new Error(`stream condition not reached; frames: ${JSON.stringify(frames)}`);
        if (ended) throw new Error(`stream ended first; frames: ${JSON.stringify(frames)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => controller.abort(),
  };
};

/** The event frames (with data), parsed. */
export const eventsOf = <T = { position: string; type: string }>(frames: SseFrame[]): T[] =>
  frames.filter((f) => f.data !== undefined).map((f) => JSON.parse(f.data!) as T);

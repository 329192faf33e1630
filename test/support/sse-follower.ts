import { parseEventStream } from './fine-tuning.js';

export interface FollowedStream {
  /** Every data frame's id and parsed event, in the order received, across reconnections. */
  events: Array<{ id: string; event: { id: string; message: string } }>;
  /** One entry per connection: who served it and how it ended. */
  connections: Array<{
    servedBy: string | null;
    status: number | 'error';
    ended: 'done' | 'closed' | 'error' | 'elsewhere';
    events: number;
  }>;
}

/**
 * Follows a job's events as an EventSource does: when a stream ends without `[DONE]` (its replica
 * is shutting down) or cannot be opened, it reconnects after `retryMs` with `Last-Event-ID` set to
 * the last id received. Bounded by `maxConnections` and `timeoutMs`. `state` shows the progress so
 * far; `done` resolves at `[DONE]`.
 */
export interface FollowOptions {
  retryMs?: number;
  maxConnections?: number;
  timeoutMs?: number;
  /** The replica the stream should be on (`X-Served-By`): a stream opened elsewhere is closed unread and opened again. */
  prefer?: () => string | undefined;
}

export function followEvents(url: string, options: FollowOptions = {}) {
  const state: FollowedStream = { events: [], connections: [] };
  const done = follow(url, state, options);
  done.catch(() => undefined);
  return { state, done };
}

async function follow(
  url: string,
  out: FollowedStream,
  { retryMs = 200, maxConnections = 60, timeoutMs = 240_000, prefer }: FollowOptions,
): Promise<FollowedStream> {
  const deadline = Date.now() + timeoutMs;
  while (out.connections.length < maxConnections && Date.now() < deadline) {
    const lastId = out.events.at(-1)?.id;
    const connection: FollowedStream['connections'][number] = { servedBy: null, status: 'error', ended: 'error', events: 0 };
    out.connections.push(connection);
    try {
      const res = await fetch(url, {
        headers: lastId ? { 'last-event-id': lastId } : {},
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
      connection.status = res.status;
      connection.servedBy = res.headers.get('x-served-by');
      if (res.status !== 200 || !res.body) throw new Error(`status ${res.status}`);
      const wanted = prefer?.();
      if (wanted && connection.servedBy !== wanted) {
        await res.body.cancel();
        connection.ended = 'elsewhere';
        continue;
      }
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of res.body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        const cut = pending.lastIndexOf('\n\n');
        if (cut < 0) continue;
        for (const frame of parseEventStream(pending.slice(0, cut + 2))) {
          if (frame.data === undefined) continue;
          if (frame.data === '[DONE]') connection.ended = 'done';
          else {
            out.events.push({ id: frame.id!, event: JSON.parse(frame.data) as { id: string; message: string } });
            connection.events += 1;
          }
        }
        pending = pending.slice(cut + 2);
      }
      if (connection.ended === 'done') return out;
      connection.ended = 'closed';
    } catch {
      connection.ended = 'error';
    }
    await new Promise((r) => setTimeout(r, retryMs));
  }
  throw new Error(`the stream did not reach [DONE]: ${JSON.stringify(out.connections)}`);
}

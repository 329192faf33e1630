import type { FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from '../../common/errors/unavailable.js';
import type { EventRow } from './job-events.repository.js';
import { toEventObject } from './job.mapper.js';

const POLL_MS = 500;
const KEEPALIVE_MS = 15_000;

export interface EventSource {
  eventsSince(id: string, seq: number): Promise<{ events: EventRow[]; finished: boolean }>;
}

/** How long a browser's EventSource waits before it reconnects after the stream ends without [DONE]. */
const RETRY_MS = 1_000;

/**
 * `GET .../events?stream=true`: Server-Sent Events, each `id: <event id>` and `data: <event JSON>`,
 * oldest first, from the job's first event or from the one after `startSeq` (the client's
 * `Last-Event-ID`: a client that reconnects, through a load balancer to another replica or to this
 * one, gets each event exactly once); then new ones as they are written (polled, so events written
 * by another replica arrive too); `data: [DONE]` once the job has finished. `shouldEnd` ends it early, without
 * [DONE] (the server is draining: the client reconnects elsewhere). While the database does not
 * answer the stream stays open (keep-alives go on) and polls again.
 */
export async function streamEvents(
  reply: FastifyReply,
  jobId: string,
  startSeq: number,
  source: EventSource,
  shouldEnd: () => boolean,
): Promise<void> {
  const first = await source.eventsSince(jobId, startSeq);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let closed = false;
  raw.once('close', () => (closed = true));
  raw.write(`retry: ${RETRY_MS}\n\n`);
  let seq = startSeq;
  let lastWrite = Date.now();
  let batch = first;
  let done = false;
  try {
    for (;;) {
      for (const event of batch.events) {
        raw.write(`id: ${event.id}\ndata: ${JSON.stringify(toEventObject(event))}\n\n`);
        seq = event.seq;
        lastWrite = Date.now();
      }
      done = batch.finished && batch.events.length === 0;
      if (done || closed || shouldEnd()) break;
      if (batch.events.length === 0) {
        if (Date.now() - lastWrite > KEEPALIVE_MS) {
          raw.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      if (closed) break;
      batch = await source.eventsSince(jobId, seq).catch((err: unknown) => {
        if (isDatabaseUnavailable(err)) return { events: [], finished: false };
        throw err;
      });
    }
    if (done && !closed) raw.write('data: [DONE]\n\n');
  } catch (err) {
    if (!closed) raw.write(`event: error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
  } finally {
    raw.end();
  }
}

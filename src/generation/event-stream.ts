import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * A Server-Sent Events body: `data: <json>` events, sent through Fastify (so the reply's hooks and
 * headers apply) as they are written. The decode loop does not wait for a slow client: its events
 * are bounded by the request's token limit, and they queue here.
 */
export class EventStream {
  private readonly body = new Readable({ read() {} });
  private ended = false;

  constructor(reply: FastifyReply) {
    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
      .send(this.body);
  }

  data(value: unknown): void {
    if (!this.ended) this.body.push(`data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.body.push(null);
  }
}

/**
 * An AbortSignal that fires when the client goes away before the answer is complete: a
 * disconnected client's sequences leave the decode loop at its next step.
 */
export function abortWhenGone(reply: FastifyReply, controller = new AbortController()): AbortController {
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}

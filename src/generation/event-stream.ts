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
  /** Events written since the last flush: a decode step's events leave in one socket write. */
  private pending: string[] = [];
  private flushing = false;

  constructor(reply: FastifyReply) {
    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
      .send(this.body);
  }

  data(value: unknown): void {
    if (this.ended) return;
    this.pending.push(`data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  end(): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    this.body.push(null);
  }

  private flush(): void {
    this.flushing = false;
    if (this.pending.length === 0 || this.ended) return;
    this.body.push(this.pending.join(''));
    this.pending = [];
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

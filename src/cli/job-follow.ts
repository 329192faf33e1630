import { CliError, ExitCode } from './cli-error.js';
import type { JobObject } from './jobs.command.js';
import type { Output } from './progress.js';
import type { ServerClient } from './server-client.js';

export interface JobEvent {
  id: string;
  level: string;
  message: string;
  type: string;
  data: Record<string, unknown>;
}

/** A terminal gets a redrawn bar under the event lines; a pipe gets the lines only. */
export interface FollowOutput extends Output {
  isTTY?: boolean;
  columns?: number;
}

/** Reconnects after a stream that ended without [DONE] (a replica draining), at most this many in a row. */
const MAX_RECONNECTS = 20;
const RECONNECT_MS = 1_000;
const BAR_WIDTH = 30;

/**
 * `lathe jobs follow`: the job's event stream (GET /v1/fine_tuning/jobs/{id}/events?stream=true),
 * each event as a line, the training's progress (steps done of the total, epoch, loss) as a bar
 * redrawn under them, and the job's final status. Resolves with the exit code: 0 when it succeeded.
 */
export async function followJob(server: ServerClient, id: string, out: FollowOutput): Promise<number> {
  const job = await server.json<JobObject>('GET', `/v1/fine_tuning/jobs/${encodeURIComponent(id)}`);
  out.write(`following ${job.id}: ${job.model} on ${job.training_file}, status ${job.status}\n`);
  const view = new ProgressView(out);
  let lastId: string | undefined;
  let done = false;
  for (let attempt = 0; !done; attempt += 1) {
    if (attempt > MAX_RECONNECTS) throw new CliError(`the event stream of ${id} kept ending without [DONE]`, ExitCode.Unavailable);
    if (attempt > 0) await new Promise((r) => setTimeout(r, RECONNECT_MS));
    const res = await server.stream(`/v1/fine_tuning/jobs/${encodeURIComponent(id)}/events?stream=true`, {
      accept: 'text/event-stream',
      ...(lastId ? { 'last-event-id': lastId } : {}),
    });
    for await (const frame of sseFrames(res)) {
      if (frame.data === '[DONE]') {
        done = true;
        break;
      }
      if (frame.event === 'error' || frame.data === undefined) continue;
      if (frame.id) lastId = frame.id;
      view.event(JSON.parse(frame.data) as JobEvent);
      attempt = 0;
    }
  }
  view.end();
  const final = await server.json<JobObject>('GET', `/v1/fine_tuning/jobs/${encodeURIComponent(id)}`);
  if (final.status === 'succeeded') {
    out.write(`status succeeded: fine-tuned model ${final.fine_tuned_model}\n`);
    return ExitCode.Ok;
  }
  const why = final.error?.message ? `: ${final.error.message}` : '';
  out.write(`status ${final.status}${why}\n`);
  return ExitCode.Failure;
}

/** The event lines, and on a terminal one bar line below them that each event redraws. */
class ProgressView {
  private progress: { step: number; total: number; epoch: number; loss?: number } | undefined;
  private drawn = false;

  constructor(private readonly out: FollowOutput) {}

  event(e: JobEvent): void {
    const data = e.data;
    if (typeof data.step === 'number' && typeof data.total_steps === 'number') {
      const loss = typeof data.train_loss === 'number' ? data.train_loss : this.progress?.loss;
      this.progress = { step: data.step, total: data.total_steps, epoch: Number(data.epoch ?? 0), loss };
    }
    this.clear();
    this.out.write(`${e.level === 'info' ? '' : `${e.level}: `}${e.message}\n`);
    this.draw();
  }

  end(): void {
    this.clear();
    if (this.progress) this.out.write(`${this.line()}\n`);
  }

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(): void {
    if (!this.out.isTTY) return;
    this.out.write(this.progress ? this.line() : 'waiting for the first epoch …');
    this.drawn = true;
  }

  /** `[#####-----]  50%  step 18/36  epoch 3  loss 0.4123` */
  private line(): string {
    const { step, total, epoch, loss } = this.progress!;
    const ratio = total > 0 ? Math.min(1, step / total) : 0;
    const filled = Math.round(ratio * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%`;
    return `${bar}  step ${step}/${total}  epoch ${epoch}${loss !== undefined ? `  loss ${loss.toFixed(4)}` : ''}`;
  }
}

interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

/** Server-Sent Events frames as they arrive (one value per field, as Lathe sends them). */
async function* sseFrames(res: Response): AsyncGenerator<SseFrame> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: SseFrame = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const at = line.indexOf(':');
          const field = at < 0 ? line : line.slice(0, at);
          const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
          if (field === 'id' || field === 'event' || field === 'data') frame[field] = value;
        }
        yield frame;
      }
    }
  } catch {
    // The connection dropped: the caller reconnects from the last event id.
  }
}

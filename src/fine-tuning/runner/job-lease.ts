import { isDatabaseUnavailable } from '../../common/errors/unavailable.js';
import type { JobsRepository } from '../jobs/jobs.repository.js';

/** Why a run stops before it finishes. */
export type StopCause = 'cancelled' | 'lost' | 'shutdown' | 'timeout';

export const HEARTBEAT_MS = 1_000;
/**
 * How long a run keeps retrying a write while the database does not answer. Shorter than the
 * sweeper's stale-heartbeat limit (60 s), so a run never writes on after its job could have been
 * handed to another runner; a longer outage fails the write and the sweeper recovers the job.
 */
export const STALL_TOLERANCE_MS = 45_000;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 2_000;

/**
 * A running job's lease: the advisory lock (held by the runner's connection, taken before the
 * claim) plus a heartbeat that also notices, within HEARTBEAT_MS, that the job was cancelled or
 * taken over. `onBeat` runs with every heartbeat (flushing step metrics).
 */
export class JobLease {
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private stopCause?: StopCause;
  private readonly stopListeners: Array<(cause: StopCause) => void> = [];
  estimatedFinish: Date | null = null;
  /** Where training has got to, for the events that say where it stopped. */
  progress?: { step: number; epoch: number };
  /** Runs after every successful heartbeat (the runner flushes step metrics here). */
  onBeat: () => Promise<void> = async () => undefined;
  /**
   * Runs after every successful heartbeat: takes the lease lock again when the connection that
   * held it broke (a database restart ends every session); false when another runner has it.
   */
  keepLock: () => Promise<boolean> = async () => true;

  constructor(
    readonly jobId: string,
    readonly token: string,
    private readonly jobs: JobsRepository,
    /** Logs a failed heartbeat or a write that is tried again. */
    private readonly onError: (err: Error, what: string) => void,
  ) {}

  get stopping(): StopCause | undefined {
    return this.stopCause;
  }

  start(): void {
    // One beat at a time: while the database stalls, beats must not pile up and drain the pool.
    this.timer = setInterval(() => void (this.beating ??= this.beat().finally(() => (this.beating = undefined))), HEARTBEAT_MS);
  }

  end(): void {
    clearInterval(this.timer);
  }

  onStop(listener: (cause: StopCause) => void): void {
    this.stopListeners.push(listener);
  }

  requestStop(cause: StopCause): void {
    if (this.stopCause) return;
    this.stopCause = cause;
    for (const listener of this.stopListeners) listener(cause);
  }

  /** Beats now; the stop cause when the lease turns out to be gone. */
  async confirm(): Promise<StopCause | undefined> {
    await this.beating;
    await this.beat();
    return this.stopCause;
  }

  /**
   * Runs a write of this run, again while the database is unreachable or stalled (logged through
   * onError), for up to STALL_TOLERANCE_MS; other errors and the last one are thrown. The write
   * must be safe to repeat: a statement the client gave up on may still have been applied.
   */
  async persist<T>(write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + STALL_TOLERANCE_MS;
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      try {
        return await write();
      } catch (err) {
        if (!isDatabaseUnavailable(err) || Date.now() + wait > deadline || this.stopCause === 'cancelled') throw err;
        this.onError(err as Error, `a write (trying again in ${wait} ms)`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async beat(): Promise<void> {
    try {
      const held = await this.jobs.heartbeat(this.jobId, this.token, this.estimatedFinish);
      if (!held) {
        const job = await this.jobs.find(this.jobId);
        this.requestStop(job?.status === 'cancelled' ? 'cancelled' : 'lost');
        return;
      }
      if (!(await this.keepLock())) {
        this.requestStop('lost');
        return;
      }
      await this.onBeat();
    } catch (err) {
      this.onError(err as Error, 'the heartbeat');
    }
  }
}

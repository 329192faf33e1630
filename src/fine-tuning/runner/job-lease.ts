import type { JobsRepository } from '../jobs/jobs.repository.js';

/** Why a run stops before it finishes. */
export type StopCause = 'cancelled' | 'lost' | 'shutdown' | 'timeout';

export const HEARTBEAT_MS = 1_000;

/**
 * A running job's lease: the advisory lock (held by the runner's connection, taken before the
 * claim) plus a heartbeat that also notices, within HEARTBEAT_MS, that the job was cancelled or
 * taken over. `onBeat` runs with every heartbeat (flushing step metrics).
 */
export class JobLease {
  private timer?: NodeJS.Timeout;
  private stopCause?: StopCause;
  private readonly stopListeners: Array<(cause: StopCause) => void> = [];
  estimatedFinish: Date | null = null;
  /** Where training has got to, for the events that say where it stopped. */
  progress?: { step: number; epoch: number };
  /** Runs after every successful heartbeat (the runner flushes step metrics here). */
  onBeat: () => Promise<void> = async () => undefined;

  constructor(
    readonly jobId: string,
    readonly token: string,
    private readonly jobs: JobsRepository,
    private readonly onError: (err: Error) => void,
  ) {}

  get stopping(): StopCause | undefined {
    return this.stopCause;
  }

  start(): void {
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
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
    await this.beat();
    return this.stopCause;
  }

  private async beat(): Promise<void> {
    try {
      const held = await this.jobs.heartbeat(this.jobId, this.token, this.estimatedFinish);
      if (!held) {
        const job = await this.jobs.find(this.jobId);
        this.requestStop(job?.status === 'cancelled' ? 'cancelled' : 'lost');
        return;
      }
      await this.onBeat();
    } catch (err) {
      this.onError(err as Error);
    }
  }
}

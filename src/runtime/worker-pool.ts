import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { SessionWorker } from './session-worker.js';
import type { TensorInfo, WorkerInit } from './worker-protocol.js';

export interface PoolOptions {
  /** The model's name, for messages. */
  name: string;
  instances: number;
  /** Execution providers, tried in order by the first worker. */
  providers: string[];
  /** A worker's init for a provider list. */
  init(providers: string[]): WorkerInit;
}

export interface PoolEvents {
  fallback(provider: string, error: string): void;
  crashed(error: Error): void;
  /** A replacement worker is ready for work. */
  replaced(): void;
}

/**
 * A model's N workers: started together (the first finds the provider that loads, the others go
 * straight to it), a crashed one replaced, and the batches each has in flight counted.
 */
export class WorkerPool {
  private readonly workers: SessionWorker[] = [];
  private stopped = false;
  provider = 'unknown';
  inputs: TensorInfo[] = [];
  outputs: TensorInfo[] = [];

  constructor(
    private readonly options: PoolOptions,
    private readonly events: PoolEvents,
  ) {}

  async start(): Promise<void> {
    try {
      for (let i = 0; i < this.options.instances; i += 1) this.workers.push(await this.spawn(i === 0));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** The live workers, in start order. */
  get all(): readonly SessionWorker[] {
    return this.workers;
  }

  /** A batch was posted to `worker`. */
  acquire(worker: SessionWorker): void {
    worker.inFlight += 1;
  }

  /** A batch of `worker`'s was answered (or failed). */
  release(worker: SessionWorker): void {
    worker.inFlight -= 1;
  }

  /** Lets each worker finish what it runs, then ends it. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.workers.splice(0).map((w) => w.close()));
  }

  private async spawn(first: boolean): Promise<SessionWorker> {
    const worker = new SessionWorker(this.options.init(first ? this.options.providers : [this.provider]));
    try {
      const ready = await worker.ready;
      if (first) {
        for (const f of ready.fallbacks) this.events.fallback(f.provider, f.error);
        this.provider = ready.provider;
        this.inputs = ready.inputs;
        this.outputs = ready.outputs;
      }
    } catch (err) {
      await worker.terminate();
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${this.options.name}" failed to load: ${(err as Error).message}`);
    }
    worker.onCrash = (err) => this.replace(worker, err);
    return worker;
  }

  /** A crashed worker's batch already failed with 503; a new one takes its place. */
  private replace(dead: SessionWorker, err: Error): void {
    this.events.crashed(err);
    const index = this.workers.indexOf(dead);
    if (index >= 0) this.workers.splice(index, 1);
    if (this.stopped) return;
    this.spawn(false).then(
      (worker) => {
        if (this.stopped) return void worker.close();
        this.workers.push(worker);
        this.events.replaced();
      },
      () => undefined,
    );
  }
}

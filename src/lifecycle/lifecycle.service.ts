import { Injectable } from '@nestjs/common';

type DrainListener = () => Promise<void> | void;

/** Whether the process is serving or draining, and how many requests are in flight. */
@Injectable()
export class LifecycleService {
  private drainingSince?: number;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly drainListeners: DrainListener[] = [];

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  requestStarted(): void {
    this.inFlight += 1;
  }

  requestFinished(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  onDrain(listener: DrainListener): void {
    this.drainListeners.push(listener);
  }

  /** Readiness turns 503 from here on; listeners (e.g. the instance registry) are told. */
  async beginDrain(): Promise<void> {
    if (this.draining) return;
    this.drainingSince = Date.now();
    await Promise.allSettled(this.drainListeners.map((l) => l()));
  }

  /** Resolves true when no request is in flight, false when the grace period ran out first. */
  waitForIdle(graceMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, graceMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }
}

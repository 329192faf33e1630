import { Injectable } from '@nestjs/common';

/**
 * In-process news about jobs: a cancel answered by this replica reaches its own runner at once;
 * runners on other replicas see it at their next heartbeat.
 */
@Injectable()
export class JobSignals {
  private readonly cancelListeners = new Set<(jobId: string) => void>();

  onCancel(listener: (jobId: string) => void): void {
    this.cancelListeners.add(listener);
  }

  cancelled(jobId: string): void {
    for (const listener of this.cancelListeners) listener(jobId);
  }
}

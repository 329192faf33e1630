import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/**
 * The bound on a model's accepted work, as Hugging Face TEI's permits: a request is
 * accepted while fewer than maxQueueSize are queued or running, and refused at once otherwise
 * (429 OVERLOADED with a Retry-After), never queued without bound.
 */
export class Admission {
  /** Accepted and not yet answered: queued plus running. */
  private accepted = 0;
  private closed = false;
  /** Moving average of a batch's wall time, for Retry-After. */
  private avgRunMs = 10;

  constructor(
    private readonly name: string,
    private readonly maxQueueSize: number,
  ) {}

  get inProgress(): number {
    return this.accepted;
  }

  /**
   * Takes a permit, or gives the error to answer with: 503 once closed (unloading), 429 when
   * full, with a Retry-After of the time the work ahead should take on `instances` workers.
   */
  admit(instances: number): AppError | undefined {
    if (this.closed) return new AppError(ErrorCode.Unavailable, `model "${this.name}" is unloading`);
    if (this.accepted >= this.maxQueueSize) {
      const seconds = Math.max(1, Math.ceil((this.accepted * this.avgRunMs) / Math.max(1, instances) / 1000));
      return new AppError(
        ErrorCode.Overloaded,
        `model "${this.name}" has ${this.accepted} requests in progress (limit ${this.maxQueueSize}); retry later`,
        undefined,
        { 'retry-after': String(seconds) },
      );
    }
    this.accepted += 1;
    return undefined;
  }

  /** Gives back the permit of a request that was answered. */
  release(): void {
    this.accepted -= 1;
  }

  /** A batch took `ms` of wall time. */
  ran(ms: number): void {
    this.avgRunMs = this.avgRunMs * 0.8 + ms * 0.2;
  }

  close(): void {
    this.closed = true;
  }
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/**
 * Bounds work that costs a process or a thread each (ffmpeg, a WAV decoding worker): at most
 * `concurrency` at once, `maxWaiting` more queued, and beyond that 429 OVERLOADED at once.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly what: string,
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new AppError(
          ErrorCode.Overloaded,
          `${this.what}: ${this.active} running and ${this.waiting.length} waiting; retry later`,
          undefined,
          { 'retry-after': '1' },
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next in line; `active` only drops when nobody waits.
      if (next) next();
      else this.active -= 1;
    }
  }
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { TaskModel } from './task-models.service.js';

/**
 * How many inputs one request may send to `model` when every `perRun` of them is one runner
 * request: the model queues at most `queue.maxSize` requests, so with more the request would be
 * refused 429 on an idle server, every time, after the earlier inputs had run for nothing.
 */
export function maxInputsFor(model: TaskModel, perRun = 1): number {
  return model.manifest.queue.maxSize * Math.max(1, perRun);
}

/**
 * A request that can never succeed is 413 TOO_MANY_INPUTS, naming the limit, before any decode or
 * model run; only a request that may succeed later gets 429.
 */
export function checkInputCount(count: number, limit: number, what: string, why: string): void {
  if (count > limit) {
    throw new AppError(ErrorCode.TooManyInputs, `${count} ${what} in one request; at most ${limit} (${why})`, { limit, got: count });
  }
}

/** checkInputCount against maxInputsFor(model, perRun). */
export function checkModelInputs(model: TaskModel, count: number, what: string, perRun = 1): void {
  const why =
    perRun > 1
      ? `model "${model.name}" queues ${model.manifest.queue.maxSize} runs of ${perRun}`
      : `model "${model.name}" queues ${model.manifest.queue.maxSize} runs`;
  checkInputCount(count, maxInputsFor(model, perRun), what, why);
}

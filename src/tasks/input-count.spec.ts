import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { checkModelInputs, maxInputsFor } from './input-count.js';
import type { TaskModel } from './task-models.service.js';

const model = (maxSize: number) => ({ name: 'm', manifest: { queue: { maxSize } } }) as unknown as TaskModel;

describe('checkModelInputs', () => {
  const cases: Array<[queue: number, perRun: number, limit: number]> = [
    [128, 1, 128],
    [128, 0, 128],
    [256, 64, 16_384],
    [1, 8, 8],
  ];
  for (const [queue, perRun, limit] of cases) {
    it(`a queue of ${queue} runs of ${perRun}: at most ${limit} inputs`, () => {
      assert.equal(maxInputsFor(model(queue), perRun), limit);
      checkModelInputs(model(queue), limit, 'inputs', perRun);
      assert.throws(
        () => checkModelInputs(model(queue), limit + 1, 'inputs', perRun),
        (err: unknown) =>
          err instanceof AppError &&
          err.code === ErrorCode.TooManyInputs &&
          err.status === 413 &&
          (err.details as { limit: number }).limit === limit,
      );
    });
  }

  it('names the model and its queue in the message', () => {
    assert.throws(() => checkModelInputs(model(16), 65, 'texts', 4), {
      message: '65 texts in one request; at most 64 (model "m" queues 16 runs of 4)',
    });
  });
});

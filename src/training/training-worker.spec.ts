import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { TrainingSpecError } from './options.js';
import { deserializeState } from './state-codec.js';
import { clusters } from './synthetic-data.js';
import { Trainer } from './trainer.js';
import { TrainingAborted, type TrainingOutcome, TrainingRun } from './training-worker.js';
import type { EpochMetrics, StepMetrics, TrainOptions } from './types.js';

const DATA = clusters(400, 10, 3, 5);
const OPTIONS: TrainOptions = {
  head: { kind: 'mlp', inputDim: 10, outputDim: 3, hidden: 16, activation: 'relu' },
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', learningRate: 0.01 },
  epochs: 5,
  batchSize: 20,
  seed: 8,
  validationSplit: 0.25,
  stepsPerRun: 4,
};

describe('TrainingRun (worker thread)', () => {
  it('trains to the end, reporting steps and epochs, and exports the best head', async () => {
    const steps: StepMetrics[] = [];
    const epochs: Array<[EpochMetrics, Uint8Array]> = [];
    const run = TrainingRun.start(
      { options: OPTIONS, train: DATA, export: { output: 'probabilities' } },
      {
        onStep: (m) => steps.push(m),
        onEpoch: (m, checkpoint) => epochs.push([m, checkpoint]),
      },
    );
    const outcome = await run.done;
    assert.equal(outcome.reason, 'completed');
    assert.equal(steps.length, 5 * 15, '300 training examples in batches of 20');
    assert.deepEqual(
      epochs.map(([m]) => m.epoch),
      [1, 2, 3, 4, 5],
    );
    assert.equal(deserializeState(epochs[4]![1]).step, 75);
    assert.ok(outcome.validation!.accuracy! > 0.9, `validation accuracy ${outcome.validation!.accuracy}`);

    // The same run in this thread gives the same weights, and the exported model answers with them.
    const local = new Trainer(OPTIONS, DATA);
    while (!local.finished) await local.runEpoch();
    await local.close();
    assert.deepEqual(outcome.weights, local.bestWeights());
    const session = await ort.InferenceSession.create(outcome.model!);
    const { probabilities } = await session.run({ features: new ort.Tensor('float32', DATA.features.slice(0, 10), [1, 10]) });
    await session.release();
    assert.equal(probabilities!.dims[1], 3);
  });

  it('cancels between steps and resumes from the returned state to the same weights', async () => {
    // Long enough (900 steps) that the cancel, which reaches the worker while it trains on, lands mid-run.
    const options = { ...OPTIONS, epochs: 60 };
    let run: TrainingRun | undefined;
    // eslint-disable-next-line prefer-const -- declared first: the callback passed in refers to it.
    run = TrainingRun.start({ options, train: DATA }, { onStep: (m) => m.step === 20 && run!.cancel() });
    const cut = await run.done;
    assert.equal(cut.reason, 'cancelled');
    assert.ok(cut.step >= 20 && cut.step < 900, `stopped at step ${cut.step}`);
    const resumed: TrainingOutcome = await TrainingRun.start({ options, train: DATA, state: cut.state }).done;
    const whole = await TrainingRun.start({ options, train: DATA }).done;
    assert.equal(resumed.reason, 'completed');
    assert.deepEqual(resumed.weights, whole.weights);
    assert.deepEqual(resumed.state, whole.state);
  });

  it('abort ends the run at once: no step is reported after it, done rejects, and the thread exits', async () => {
    const options = { ...OPTIONS, epochs: 1000, stepsPerRun: 1 };
    let run: TrainingRun | undefined;
    let aborted = false;
    let afterAbort = 0;
    let exited = false;
    // eslint-disable-next-line prefer-const -- declared first: the callbacks passed in refer to it.
    run = TrainingRun.start(
      { options, train: DATA },
      {
        onStep: (m) => {
          if (aborted) afterAbort += 1;
          else if (m.step === 20) {
            aborted = true;
            run!.abort();
          }
        },
      },
    );
    void run.exited.then(() => (exited = true));
    await assert.rejects(run.done, (err: unknown) => err instanceof TrainingAborted);
    await run.exited;
    assert.equal(exited, true);
    assert.equal(afterAbort, 0);
  });

  it('rejects with every problem of a bad job', async () => {
    const run = TrainingRun.start({ options: { ...OPTIONS, epochs: 0, batchSize: -1 }, train: DATA });
    await assert.rejects(run.done, (err: unknown) => err instanceof TrainingSpecError && err.problems.length === 2);
  });
});

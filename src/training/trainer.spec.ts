import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickRows } from './datasets.js';
import { flattenWeights } from './head-layout.js';
import { TrainingSpecError } from './options.js';
import { deserializeState, serializeState } from './state-codec.js';
import { clusters, noise, regression } from './synthetic-data.js';
import { type StepListener, Trainer } from './trainer.js';
import type { Dataset, EpochMetrics, HeadWeights, TrainOptions } from './types.js';

/** Runs to the end; closes the trainer. */
async function trainToEnd(trainer: Trainer, onStep?: StepListener): Promise<EpochMetrics[]> {
  const epochs: EpochMetrics[] = [];
  try {
    while (!trainer.finished) epochs.push(await trainer.runEpoch(onStep));
  } finally {
    await trainer.close();
  }
  return epochs;
}

const bytesOf = (w: HeadWeights) => Buffer.concat(w.layers.flatMap((l) => [Buffer.from(l.weight.buffer), Buffer.from(l.bias.buffer)]));

/** Everything that draws random numbers: init, shuffling, dropout, the split; a partial last batch. */
const DATA = clusters(203, 8, 3, 11, 3);
const RICH: TrainOptions = {
  head: { kind: 'mlp', inputDim: 8, outputDim: 3, hidden: 12, activation: 'gelu', dropout: 0.2 },
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', learningRate: 0.02, schedule: 'cosine', warmupSteps: 3, weightDecay: 0.01 },
  epochs: 4,
  batchSize: 16,
  seed: 42,
  validationSplit: 0.2,
  stepsPerRun: 5,
};

describe('Trainer determinism', () => {
  it('gives bit-identical weights and state for the same seed and data', async () => {
    const a = new Trainer(RICH, DATA);
    const b = new Trainer(RICH, DATA);
    await trainToEnd(a);
    await trainToEnd(b);
    assert.ok(bytesOf(a.weights()).equals(bytesOf(b.weights())));
    assert.ok(Buffer.from(serializeState(a.state())).equals(Buffer.from(serializeState(b.state()))));
    const other = new Trainer({ ...RICH, seed: 43 }, DATA);
    await trainToEnd(other);
    assert.ok(!bytesOf(other.weights()).equals(bytesOf(a.weights())), 'another seed trains other weights');
  });

  it('does not depend on how many steps run per ONNX Runtime call, nor on its thread count', async () => {
    // A head wide enough for ONNX Runtime to split its matrix products over threads.
    const wide: TrainOptions = { ...RICH, head: { ...RICH.head, inputDim: 128, hidden: 256, outputDim: 4 }, batchSize: 64, epochs: 2 };
    const wideData = clusters(600, 128, 4, 12);
    for (const [options, data] of [
      [RICH, DATA],
      [wide, wideData],
    ] as const) {
      const reference = new Trainer({ ...options, stepsPerRun: 1, threads: 1 }, data);
      await trainToEnd(reference);
      for (const variant of [
        { stepsPerRun: 64, threads: 1 },
        { stepsPerRun: 3, threads: 2 },
      ]) {
        const trainer = new Trainer({ ...options, ...variant }, data);
        await trainToEnd(trainer);
        assert.ok(bytesOf(trainer.weights()).equals(bytesOf(reference.weights())), JSON.stringify(variant));
      }
    }
  });

  it('resumes from serialized state mid-epoch to the same final weights as an uninterrupted run', async () => {
    const whole = new Trainer(RICH, DATA);
    await trainToEnd(whole);

    const first = new Trainer(RICH, DATA);
    assert.equal((await first.runEpoch()).epoch, 1);
    const cut = await first.runEpoch((m) => m.step < 14);
    assert.equal(cut.stopped, 'cancelled');
    assert.equal(cut.epoch, 1, 'a cancelled epoch is not finished');
    // 162 training examples in batches of 16: 11 steps an epoch, 5 per call; the call with step 14 ends at 16.
    assert.equal(first.step, 16, 'the call that was running when onStep said stop completes');
    const bytes = serializeState(first.state());
    await first.close();

    const resumed = Trainer.resume(RICH, DATA, undefined, deserializeState(bytes));
    const rest = await trainToEnd(resumed);
    assert.deepEqual(
      rest.map((m) => m.epoch),
      [2, 3, 4],
    );
    assert.ok(bytesOf(resumed.weights()).equals(bytesOf(whole.weights())));
    assert.ok(Buffer.from(serializeState(resumed.state())).equals(Buffer.from(serializeState(whole.state()))));
  });

  it('refuses state made with other options, and reports every bad option at once', () => {
    const state = new Trainer(RICH, DATA).state();
    assert.throws(() => Trainer.resume({ ...RICH, batchSize: 8 }, DATA, undefined, state), /other options or data/);
    assert.throws(
      () => new Trainer({ ...RICH, epochs: 0, head: { ...RICH.head, dropout: 1 }, optimizer: { kind: 'adam', learningRate: -1 } }, DATA),
      (err: unknown) => err instanceof TrainingSpecError && err.problems.length === 3,
    );
    assert.throws(() => new Trainer({ ...RICH, loss: 'mse' }, DATA), /mse needs targets/);
  });
});

describe('Trainer learning', () => {
  it('fits y = 3 x1 - 2 x2 + 1 to mse < 1e-3', async () => {
    const data = regression(512, 4, 5, (x) => 3 * x[0]! - 2 * x[1]! + 1);
    const trainer = new Trainer(
      {
        head: { kind: 'linear', inputDim: 4, outputDim: 1 },
        loss: 'mse',
        optimizer: { kind: 'adam', learningRate: 0.05, schedule: 'linear' },
        epochs: 40,
        batchSize: 32,
        seed: 1,
      },
      data,
    );
    await trainToEnd(trainer);
    const check = regression(256, 4, 6, (x) => 3 * x[0]! - 2 * x[1]! + 1);
    const { mse } = await trainer.evaluate(check);
    await trainer.close();
    assert.ok(mse! < 1e-3, `mse ${mse}`);
    const { weight, bias } = trainer.weights().layers[0]!;
    [3, -2, 0, 0].forEach((w, i) => assert.ok(Math.abs(weight[i]! - w) < 0.02, `w${i + 1} = ${weight[i]}`));
    assert.ok(Math.abs(bias[0]! - 1) < 0.02, `b = ${bias[0]}`);
  });

  it('full-batch gradient descent takes one step per epoch', async () => {
    const data = regression(64, 2, 8, (x) => x[0]! - x[1]!);
    const trainer = new Trainer(
      {
        head: { kind: 'linear', inputDim: 2, outputDim: 1 },
        loss: 'mse',
        optimizer: { kind: 'sgd', learningRate: 0.5 },
        epochs: 60,
        batchSize: 1000,
        seed: 1,
      },
      data,
    );
    assert.equal(trainer.stepsPerEpoch, 1);
    const epochs = await trainToEnd(trainer);
    assert.equal(trainer.step, 60);
    assert.ok(epochs.at(-1)!.trainLoss < 1e-4, `loss ${epochs.at(-1)!.trainLoss}`);
  });

  it('separates clusters to high accuracy on held-out data', async () => {
    const all = clusters(1000, 16, 4, 21);
    const order = Int32Array.from({ length: all.n }, (_, i) => i);
    const train = pickRows(all, order.subarray(0, 800), 16, 4);
    const test = pickRows(all, order.subarray(800), 16, 4);
    const trainer = new Trainer(
      {
        head: { kind: 'mlp', inputDim: 16, outputDim: 4, hidden: 32, activation: 'relu', dropout: 0.1 },
        loss: 'cross-entropy',
        optimizer: { kind: 'momentum', learningRate: 0.05 },
        epochs: 8,
        batchSize: 32,
        seed: 2,
        validationSplit: 0.2,
      },
      train,
    );
    const epochs = await trainToEnd(trainer);
    assert.ok(epochs.at(-1)!.validation!.accuracy! > 0.95, `validation accuracy ${epochs.at(-1)!.validation!.accuracy}`);
    const { accuracy } = await trainer.evaluate(test, flattenWeights(trainer.options.head, trainer.bestWeights()));
    await trainer.close();
    assert.ok(accuracy! > 0.95, `test accuracy ${accuracy}`);
  });

  it('stops early when the validation loss stops improving, keeping the best weights', async () => {
    // Labels independent of the features: the head can only memorise, so validation loss turns up.
    const train: Dataset = noise(160, 16, 4, 31);
    const validation: Dataset = noise(100, 16, 4, 32);
    const options: TrainOptions = {
      head: { kind: 'mlp', inputDim: 16, outputDim: 4, hidden: 64, activation: 'tanh' },
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', learningRate: 0.01 },
      epochs: 200,
      batchSize: 16,
      seed: 3,
      earlyStoppingPatience: 3,
    };
    const trainer = new Trainer(options, train, validation);
    const epochs = await trainToEnd(trainer);
    assert.equal(trainer.finished, 'early-stopping');
    assert.ok(epochs.length < 50, `stopped after ${epochs.length} epochs`);
    assert.deepEqual(
      epochs.slice(-3).map((m) => m.improved),
      [false, false, false],
    );
    assert.equal(epochs.at(-4)!.improved, true);
    const bestLoss = Math.min(...epochs.map((m) => m.validation!.loss));
    assert.equal(epochs.at(-4)!.validation!.loss, bestLoss);
    const { loss } = await trainer.evaluate(validation, flattenWeights(options.head, trainer.bestWeights()));
    await trainer.close();
    assert.equal(loss, bestLoss);
  });
});

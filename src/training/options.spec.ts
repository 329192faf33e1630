import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainingProblems } from './options.js';
import type { Dataset, TrainOptions } from './types.js';

const OK: TrainOptions = {
  head: { kind: 'mlp', inputDim: 2, outputDim: 3, hidden: 4 },
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', learningRate: 0.001 },
  epochs: 3,
  batchSize: 2,
  seed: 1,
};
const DATA: Dataset = { features: new Float32Array(8), n: 4, labels: Int32Array.of(0, 1, 2, 0) };

describe('trainingProblems', () => {
  const cases: Array<[string, Partial<TrainOptions>, Dataset | undefined, string[]]> = [
    ['a valid setup', {}, undefined, []],
    [
      'an mlp without hidden',
      { head: { kind: 'mlp', inputDim: 2, outputDim: 3 } },
      undefined,
      ['an mlp head needs hidden, a positive integer'],
    ],
    [
      'a linear head with an activation',
      { head: { kind: 'linear', inputDim: 2, outputDim: 3, activation: 'relu' } },
      undefined,
      ['a linear head has no hidden layer or activation'],
    ],
    [
      'bad optimizer numbers',
      { optimizer: { kind: 'adam', learningRate: 0, beta2: 1, warmupSteps: 1.5 } },
      undefined,
      [
        'optimizer.learningRate must be positive',
        'optimizer.beta2 must be in [0, 1)',
        'optimizer.warmupSteps must be a non-negative integer',
      ],
    ],
    [
      'early stopping without validation',
      { earlyStoppingPatience: 2 },
      undefined,
      ['early stopping needs a validation set or validationSplit'],
    ],
    ['a split and a validation set', { validationSplit: 0.5 }, DATA, ['give a validation set or validationSplit, not both']],
    [
      'a split that leaves nothing',
      { validationSplit: 0.01 },
      undefined,
      ['validationSplit 0.01 of 4 examples leaves no training or no validation examples'],
    ],
    ['a seed past 32 bits', { seed: 2 ** 32 }, undefined, ['seed must be an integer in [0, 2^32)']],
    ['labels out of range', {}, { ...DATA, labels: Int32Array.of(0, 1, 3, 0) }, ['validation: labels must be in [0, 3)']],
    ['mse without targets', { loss: 'mse' }, undefined, ['train: mse needs targets, a Float32Array of n × outputDim = 12 values']],
  ];
  for (const [label, change, validation, expected] of cases) {
    it(label, () => assert.deepEqual(trainingProblems({ ...OK, ...change }, DATA, validation), expected));
  }

  it('finds non-finite features', () => {
    assert.deepEqual(trainingProblems(OK, { ...DATA, features: Float32Array.of(0, 0, 0, NaN, 0, 0, 0, 0) }), [
      'train: features must be finite',
    ]);
  });
});

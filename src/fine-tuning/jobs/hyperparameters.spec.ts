import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hyperparametersSchema, resolveHyperparameters } from './hyperparameters.js';
import { canMove, isTerminal, sourcesOf } from './job-state.js';

const classification = { task: 'classification' as const, examples: 200, hasValidationFile: false };

describe('resolveHyperparameters', () => {
  it('resolves auto and the defaults against the dataset', () => {
    assert.deepEqual(resolveHyperparameters({}, classification).value, {
      n_epochs: 25,
      batch_size: 32,
      learning_rate_multiplier: 1,
      head: 'linear',
      dropout: 0,
      loss: 'cross-entropy',
      optimizer: 'adam',
      learning_rate: 0.01,
      schedule: 'constant',
      warmup_steps: 0,
      weight_decay: 0,
      validation_split: 0.2,
    });
    const small = resolveHyperparameters(
      { n_epochs: 'auto', batch_size: 'auto' },
      { task: 'regression', examples: 6, hasValidationFile: false },
    ).value!;
    assert.deepEqual([small.n_epochs, small.batch_size, small.loss, small.validation_split], [50, 6, 'mse', 0]);
    assert.equal(resolveHyperparameters({}, { ...classification, hasValidationFile: true }).value!.validation_split, 0);
    const sgd = resolveHyperparameters({ optimizer: 'sgd', learning_rate_multiplier: 0.5 }, classification).value!;
    assert.deepEqual([sgd.learning_rate, sgd.learning_rate_multiplier], [0.25, 0.5]);
    assert.deepEqual(resolveHyperparameters({ hidden: 8 }, classification).value!.head, 'mlp');
  });

  const problems: Array<[string, object, object, string[]]> = [
    ['mse for labels', { loss: 'mse' }, classification, ['hyperparameters.loss']],
    ['hidden for linear', { head: 'linear', hidden: 4 }, classification, ['hyperparameters.hidden']],
    [
      'split with a validation file',
      { validation_split: 0.1 },
      { ...classification, hasValidationFile: true },
      ['hyperparameters.validation_split'],
    ],
    [
      'a split that holds out nothing',
      { validation_split: 0.01 },
      { ...classification, examples: 20 },
      ['hyperparameters.validation_split'],
    ],
    [
      'early stopping without held-out data',
      { early_stopping_patience: 2, validation_split: 0 },
      classification,
      ['hyperparameters.early_stopping_patience'],
    ],
    ['rate and multiplier', { learning_rate: 0.1, learning_rate_multiplier: 3 }, classification, ['hyperparameters.learning_rate']],
  ];
  for (const [name, input, ctx, fields] of problems) {
    it(`refuses ${name}`, () => {
      const result = resolveHyperparameters(input, ctx as typeof classification);
      assert.equal(result.value, undefined);
      assert.deepEqual(
        result.problems.map((p) => p.field),
        fields,
      );
    });
  }

  it('the schema refuses values out of range and unknown keys', () => {
    for (const bad of [
      { n_epochs: 0 },
      { batch_size: 1.5 },
      { learning_rate: 0 },
      { dropout: 0.95 },
      { head: 'cnn' },
      { momentum: 1 },
      { typo: 1 },
    ]) {
      assert.equal(hyperparametersSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

describe('job states', () => {
  it('moves as OpenAI describes, with hand-backs from running to queued', () => {
    assert.deepEqual(sourcesOf('cancelled'), ['validating_files', 'queued', 'running']);
    assert.equal(canMove('running', 'queued'), true);
    assert.equal(canMove('succeeded', 'cancelled'), false);
    assert.equal(canMove('queued', 'succeeded'), false);
    assert.deepEqual(
      ['succeeded', 'failed', 'cancelled', 'running'].map((s) => isTerminal(s as 'running')),
      [true, true, true, false],
    );
  });
});

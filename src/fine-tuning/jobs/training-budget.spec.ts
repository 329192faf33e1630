import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepsPerRun } from '../runner/train-options.js';
import { budgetExcess, headParams, trainingSteps } from './training-budget.js';

const BUDGET = {
  maxRows: 1000,
  maxClasses: 50,
  maxFeatureBytes: 100 * 1000 * 4,
  maxHeadParams: 10_000,
  maxStepValues: 1000,
  maxSteps: 5000,
};
const linear = { head: 'linear' as const, batch_size: 10, n_epochs: 3 };

describe('training budgets', () => {
  it('counts head parameters: weights and biases of each layer', () => {
    assert.equal(headParams(linear, 100, 3), 303);
    assert.equal(headParams({ head: 'mlp', hidden: 64 }, 100, 3), 100 * 64 + 64 + 64 * 3 + 3);
  });

  it('reports the first budget passed, in the order rows, classes, feature bytes, head parameters, step values', () => {
    const cases: Array<[Parameters<typeof budgetExcess>[0], boolean, ReturnType<typeof budgetExcess>]> = [
      // Exactly at every limit (5,050 head parameters): within budget.
      [{ rows: 1000, trainingExamples: 1000, outputs: 50, featureDim: 100 }, true, undefined],
      [
        { rows: 1001, trainingExamples: 1001, outputs: 51, featureDim: 1000 },
        true,
        { what: 'rows', value: 1001, limit: 1000, variable: 'LATHE_TRAINING_MAX_ROWS' },
      ],
      [
        { rows: 10, trainingExamples: 10, outputs: 51, featureDim: 1000 },
        true,
        { what: 'classes', value: 51, limit: 50, variable: 'LATHE_TRAINING_MAX_CLASSES' },
      ],
      // Regression targets are not classes.
      [{ rows: 10, trainingExamples: 10, outputs: 51, featureDim: 10 }, false, undefined],
      [
        { rows: 1000, trainingExamples: 1000, outputs: 2, featureDim: 101 },
        true,
        { what: 'feature_bytes', value: 404_000, limit: 400_000, variable: 'LATHE_TRAINING_MAX_FEATURE_BYTES' },
      ],
      [
        { rows: 10, trainingExamples: 10, outputs: 50, featureDim: 200 },
        true,
        { what: 'head_params', value: 10_050, limit: 10_000, variable: 'LATHE_TRAINING_MAX_HEAD_PARAMS' },
      ],
      // A backbone of unknown feature length: rows, classes and step values only.
      [{ rows: 10, trainingExamples: 10, outputs: 50 }, true, undefined],
    ];
    for (const [size, classification, expected] of cases)
      assert.deepEqual(budgetExcess(size, linear, classification, BUDGET), expected, JSON.stringify(size));
    // 20 rows a step × (3 classes + 64 hidden units); the batch is capped by the rows (10 here).
    const mlp = { head: 'mlp' as const, hidden: 64, batch_size: 20, n_epochs: 1 };
    assert.deepEqual(budgetExcess({ rows: 100, trainingExamples: 100, outputs: 3, featureDim: 10 }, mlp, true, BUDGET), {
      what: 'step_values',
      value: 1340,
      limit: 1000,
      variable: 'LATHE_TRAINING_MAX_STEP_VALUES',
    });
    assert.equal(budgetExcess({ rows: 10, trainingExamples: 10, outputs: 3, featureDim: 10 }, mlp, true, BUDGET), undefined);
  });

  it("counts the job's steps as the trainer takes them, and refuses more than LATHE_TRAINING_MAX_STEPS", () => {
    // 95 examples in batches of 10: 10 steps an epoch, the last one of 5.
    assert.equal(trainingSteps({ batch_size: 10, n_epochs: 3 }, 95), 30);
    // A batch larger than the data is the data.
    assert.equal(trainingSteps({ batch_size: 64, n_epochs: 7 }, 5), 7);
    const size = { rows: 1000, trainingExamples: 800, outputs: 3, featureDim: 10 };
    // 80 steps an epoch: 62 epochs are 4,960 steps, 63 are 5,040.
    assert.equal(budgetExcess(size, { ...linear, n_epochs: 62 }, true, BUDGET), undefined);
    assert.deepEqual(budgetExcess(size, { ...linear, n_epochs: 63 }, true, BUDGET), {
      what: 'steps',
      value: 5040,
      limit: 5000,
      variable: 'LATHE_TRAINING_MAX_STEPS',
    });
  });

  it('sizes a training call to about 2^25 multiply-adds: big heads one step a call', () => {
    assert.equal(stepsPerRun({ head: 'linear', batch_size: 32 }, 100, 3), 32);
    assert.equal(stepsPerRun({ head: 'linear', batch_size: 32 }, 100, 10_000), 1);
    assert.equal(stepsPerRun({ head: 'linear', batch_size: 32 }, 100, 100_000), 1);
    assert.equal(stepsPerRun({ head: 'linear', batch_size: 32 }, 100, 1000), 10);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EvaluationSum, evaluateLogits } from './datasets.js';
import { Rng } from './rng.js';

describe('EvaluationSum', () => {
  const rng = Rng.fromSeed(3);
  const rows = 50;
  const outputs = 4;
  const logits = Float32Array.from({ length: rows * outputs }, () => rng.nextFloat() * 6 - 3);
  const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % outputs);
  const targets = Float32Array.from({ length: rows * outputs }, () => rng.nextFloat());

  it('block by block gives exactly the numbers of the whole logits at once', () => {
    for (const [loss, d] of [
      ['cross-entropy', { features: new Float32Array(0), n: rows, labels }],
      ['mse', { features: new Float32Array(0), n: rows, targets }],
    ] as const) {
      const sum = new EvaluationSum(loss, d, outputs);
      for (let start = 0; start < rows; start += 7) sum.add(start, logits.subarray(start * outputs, Math.min(rows, start + 7) * outputs));
      assert.deepEqual(sum.result(), evaluateLogits(loss, logits, d, outputs), loss);
    }
  });
});

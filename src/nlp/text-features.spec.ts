import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTokenIds, lengthGroups, normaliseInPlace, padIds, poolRows } from './text-features.js';
import type { Tensor } from '../contracts/tensor.js';

const near = (actual: ArrayLike<number>, expected: readonly number[], what: string) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i += 1)
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-6, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};

describe('padIds', () => {
  it('pads to the longest row rounded up to 8, with a mask of the real tokens and zero token types', () => {
    const batch = padIds([[5, 6, 7], [9]], ['input_ids', 'attention_mask', 'token_type_ids'], 1, 512, 'm');
    assert.equal(batch.seqLength, 8);
    assert.deepEqual(batch.lengths, [3, 1]);
    assert.deepEqual(batch.inputs.input_ids!.shape, [2, 8]);
    assert.deepEqual(
      [...(batch.inputs.input_ids!.data as BigInt64Array)],
      [5n, 6n, 7n, 1n, 1n, 1n, 1n, 1n, 9n, 1n, 1n, 1n, 1n, 1n, 1n, 1n],
    );
    assert.deepEqual(
      [...(batch.inputs.attention_mask!.data as BigInt64Array)],
      [1n, 1n, 1n, 0n, 0n, 0n, 0n, 0n, 1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    );
    assert.deepEqual([...(batch.inputs.token_type_ids!.data as BigInt64Array)], Array(16).fill(0n));
  });

  it('never pads past the model limit, and refuses an input it cannot fill', () => {
    assert.equal(padIds([[1, 2, 3, 4, 5]], ['input_ids'], 0, 6, 'm').seqLength, 6);
    assert.throws(() => padIds([[1]], ['pixel_values'], 0, 6, 'm'), /model "m" has an input "pixel_values" the text routes cannot fill/);
  });
});

describe('poolRows', () => {
  // Two rows of 3 positions × width 2; row 0 has 2 real tokens, row 1 has 3.
  const tokens: Tensor = { datatype: 'FP32', shape: [2, 3, 2], data: Float32Array.of(1, 2, 3, 4, 99, 99, 2, 0, 0, 2, 4, 4) };

  it("means over each row's real tokens only; a row of no tokens stays zero", () => {
    near(poolRows(tokens, [2, 3], 'mean', false), [2, 3, 2, 2], 'mean');
    near(poolRows(tokens, [0, 3], 'mean', true), [0, 0, Math.SQRT1_2, Math.SQRT1_2], 'mean, empty row');
  });

  it('takes the first token for cls, and L2-normalises when asked', () => {
    near(poolRows(tokens, [2, 3], 'cls', false), [1, 2, 2, 0], 'cls');
    near(poolRows(tokens, [2, 3], 'cls', true), [1 / Math.sqrt(5), 2 / Math.sqrt(5), 1, 0], 'cls normalised');
  });

  it('copies an already pooled [rows, width] output', () => {
    const pooled: Tensor = { datatype: 'FP32', shape: [2, 2], data: Float32Array.of(3, 4, 0, 0) };
    near(poolRows(pooled, [5, 7], 'none', true), [0.6, 0.8, 0, 0], 'pooled, normalised (zero stays zero)');
  });
});

describe('normaliseInPlace', () => {
  it('scales to unit length in place', () => {
    const v = Float32Array.of(0, 3, 4);
    assert.equal(normaliseInPlace(v), v);
    near(v, [0, 0.6, 0.8], 'v');
  });
});

describe('lengthGroups', () => {
  it('puts every row in exactly one group, shortest first, with bounded padding and at most maxRows rows', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 200; trial += 1) {
      const lengths = Array.from({ length: 1 + Math.floor(random() * 64) }, () => 1 + Math.floor(random() ** 3 * 512));
      const maxRows = 1 + Math.floor(random() * 32);
      const groups = lengthGroups(lengths, maxRows);
      assert.deepEqual(
        groups.flat().sort((a, b) => a - b),
        lengths.map((_, i) => i),
        `trial ${trial}: every row once`,
      );
      for (const group of groups) {
        assert.ok(group.length <= maxRows, `trial ${trial}: ${group.length} rows > ${maxRows}`);
        const ls = group.map((i) => lengths[i]!);
        const padded = group.length * Math.max(...ls);
        const real = ls.reduce((a, b) => a + b, 0);
        assert.ok(padded <= 1.5 * real + 8 * group.length, `trial ${trial}: ${padded} padded cells for ${real} tokens`);
      }
    }
  });

  it('keeps similar lengths together and splits a long outlier off', () => {
    assert.deepEqual(lengthGroups([9, 10, 8, 11], 64), [[2, 0, 1, 3]]);
    assert.deepEqual(lengthGroups([9, 200, 10], 64), [[0, 2], [1]]);
    assert.deepEqual(lengthGroups([4, 4, 4], 2), [[0, 1], [2]]);
  });
});

describe('checkTokenIds', () => {
  it('refuses an id the tokenizer does not know, naming the input by its place in the request', () => {
    assert.doesNotThrow(() => checkTokenIds(['text', [0, 99]], 100, 'm'));
    assert.throws(() => checkTokenIds(['text', [0, 100]], 100, 'm', 8), /^AppError: input 9 has token id 100; model "m" has 100 tokens$/);
  });
});

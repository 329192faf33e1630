import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatBatch, Scratch, splitBatch, type Tensor, transferables } from './tensor.js';

/** Little-endian bytes of the floats at an odd offset inside a larger buffer, as in a request body. */
function rawAt(values: number[], offset: number, bufferBytes: number): Tensor & { buffer: ArrayBuffer } {
  const buffer = new ArrayBuffer(bufferBytes);
  const bytes = new Uint8Array(buffer, offset, values.length * 4);
  bytes.set(new Uint8Array(Float32Array.from(values).buffer));
  return { datatype: 'FP32', shape: [values.length / 2, 2], data: bytes, raw: true, buffer };
}

describe('concatBatch', () => {
  it('joins raw and typed parts along the batch dimension into one aligned array', () => {
    const parts: Tensor[] = [
      rawAt([1, 2, 3, 4], 3, 9000),
      { datatype: 'FP32', shape: [1, 2], data: Float32Array.of(5, 6) },
      rawAt([7.5, -8], 1, 64),
    ];
    const joined = concatBatch(parts);
    assert.deepEqual(joined.shape, [4, 2]);
    assert.equal(joined.raw, undefined);
    assert.deepEqual(joined.data, Float32Array.of(1, 2, 3, 4, 5, 6, 7.5, -8));
  });

  it('copies a single raw part, and returns a single aligned part as it is', () => {
    const one = concatBatch([rawAt([1, 2], 5, 64)]);
    assert.deepEqual([one.shape, one.data], [[1, 2], Float32Array.of(1, 2)]);
    const typed: Tensor = { datatype: 'INT64', shape: [], data: BigInt64Array.of(16000n) };
    assert.equal(concatBatch([typed]), typed);
  });

  it('joins BYTES and splits back into the original parts', () => {
    const joined = concatBatch([
      { datatype: 'BYTES', shape: [1], data: ['a'] },
      { datatype: 'BYTES', shape: [2], data: ['b', 'c'] },
    ]);
    assert.deepEqual(joined, { datatype: 'BYTES', shape: [3], data: ['a', 'b', 'c'] });
    assert.deepEqual(
      splitBatch(joined, [1, 2]).map((t) => t.data),
      [['a'], ['b', 'c']],
    );
  });
});

describe('Scratch', () => {
  it('fills the same buffer for every batch of a key, growing it only for a larger batch', () => {
    const scratch = new Scratch();
    const first = concatBatch([rawAt([1, 2, 3, 4], 3, 64), rawAt([5, 6], 1, 64)], 0, scratch.allocator('input'));
    assert.deepEqual([first.shape, first.data], [[3, 2], Float32Array.of(1, 2, 3, 4, 5, 6)]);
    const buffer = (first.data as Float32Array).buffer;

    // Smaller: a view of the first elements of the same buffer, holding only this batch's values.
    const second = concatBatch(
      [rawAt([9, 8], 1, 64), { datatype: 'FP32', shape: [1, 2], data: Float32Array.of(7, 6) }],
      0,
      scratch.allocator('input'),
    );
    assert.deepEqual(second.data, Float32Array.of(9, 8, 7, 6));
    assert.equal((second.data as Float32Array).buffer, buffer);

    // Another key has its own buffer; a larger batch gets a new one.
    const other = concatBatch([rawAt([1, 1], 1, 64), rawAt([2, 2], 1, 64)], 0, scratch.allocator('state'));
    assert.notEqual((other.data as Float32Array).buffer, buffer);
    const larger = concatBatch([rawAt([1, 2, 3, 4, 5, 6], 1, 64), rawAt([7, 8], 1, 64)], 0, scratch.allocator('input'));
    assert.deepEqual(larger.data, Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    assert.notEqual((larger.data as Float32Array).buffer, buffer);
  });

  it("gives each datatype its own view of a key's bytes", () => {
    const scratch = new Scratch();
    const ints = concatBatch(
      [
        { datatype: 'INT64', shape: [1], data: BigInt64Array.of(-3n) },
        { datatype: 'INT64', shape: [2], data: BigInt64Array.of(4n, 5n) },
      ],
      0,
      scratch.allocator('ids'),
    );
    assert.deepEqual(ints.data, BigInt64Array.of(-3n, 4n, 5n));
  });
});

describe('concatBatch and splitBatch along another axis', () => {
  /** Element [i, j, k] of a [2, rows, 3] tensor built from `base`, by index arithmetic. */
  const value = (base: number, j: number, i: number, k: number) => base + 100 * i + 10 * j + k;
  const state = (base: number, rows: number): Tensor => {
    const data = new Float32Array(2 * rows * 3);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < rows; j++) for (let k = 0; k < 3; k++) data[(i * rows + j) * 3 + k] = value(base, j, i, k);
    return { datatype: 'FP32', shape: [2, rows, 3], data };
  };

  it('interleaves [layers, batch, hidden] parts on axis 1 and splits them back exactly', () => {
    const parts = [state(1000, 1), state(2000, 3), state(3000, 2)];
    const joined = concatBatch(parts, 1);
    assert.deepEqual(joined.shape, [2, 6, 3]);
    const rowsFrom = [
      [1000, 0],
      [2000, 0],
      [2000, 1],
      [2000, 2],
      [3000, 0],
      [3000, 1],
    ] as const;
    const data = joined.data as Float32Array;
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 6; j++) {
        for (let k = 0; k < 3; k++)
          assert.equal(data[(i * 6 + j) * 3 + k], value(rowsFrom[j]![0], rowsFrom[j]![1], i, k), `[${i},${j},${k}]`);
      }
    }
    assert.deepEqual(splitBatch(joined, [1, 3, 2], 1), parts);
  });

  it('does the same for raw bytes and BYTES tensors', () => {
    const raw = rawAt([1, 2, 3, 4], 3, 9000); // shape [2, 2]: two rows of the batch axis 1
    const typed: Tensor = { datatype: 'FP32', shape: [2, 1], data: Float32Array.of(9, 8) };
    const joined = concatBatch([raw, typed], 1);
    assert.deepEqual([joined.shape, joined.data], [[2, 3], Float32Array.of(1, 2, 9, 3, 4, 8)]);
    const strings = concatBatch(
      [
        { datatype: 'BYTES', shape: [2, 1], data: ['a', 'b'] },
        { datatype: 'BYTES', shape: [2, 2], data: ['c', 'd', 'e', 'f'] },
      ],
      1,
    );
    assert.deepEqual(strings, { datatype: 'BYTES', shape: [2, 3], data: ['a', 'c', 'd', 'b', 'e', 'f'] });
    assert.deepEqual(
      splitBatch(strings, [1, 2], 1).map((t) => t.data),
      [
        ['a', 'b'],
        ['c', 'd', 'e', 'f'],
      ],
    );
    // Hundreds of thousands of strings: no call with one argument per element (the stack would overflow).
    const many = Array.from({ length: 300_000 }, (_, i) => String(i));
    const big = concatBatch([
      { datatype: 'BYTES', shape: [300_000], data: many },
      { datatype: 'BYTES', shape: [1], data: ['x'] },
    ]);
    assert.deepEqual([big.shape, (big.data as string[]).at(-2), (big.data as string[]).at(-1)], [[300_001], '299999', 'x']);
    assert.deepEqual(
      splitBatch(big, [300_000, 1]).map((t) => t.shape),
      [[300_000], [1]],
    );
  });
});

describe('transferables', () => {
  it('moves own buffers and large request bodies, never the shared small-Buffer pool', () => {
    const big = rawAt([1, 2], 3, 9000);
    const pooled = rawAt([1, 2], 3, 8192);
    const typed: Tensor = { datatype: 'FP32', shape: [2], data: Float32Array.of(1, 2) };
    const strings: Tensor = { datatype: 'BYTES', shape: [1], data: ['x'] };
    const list = transferables([big, { ...big }, pooled, typed, strings]);
    assert.deepEqual(list, [big.buffer, (typed.data as Float32Array).buffer]);
  });
});

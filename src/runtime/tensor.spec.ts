import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatBatch, splitBatch, type Tensor, transferables } from './tensor.js';

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
    assert.deepEqual(splitBatch(joined, [1, 2]).map((t) => t.data), [['a'], ['b', 'c']]);
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

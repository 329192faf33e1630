import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tensor } from '../contracts/tensor.js';
import { classificationCount, classify } from './classification.js';
import { float32ToFp16Bits } from './fp16.js';

describe('classify (Triton classification extension)', () => {
  it('takes the k highest of each row, highest first, as "value:index:label" (std::to_string floats)', () => {
    const tensor: Tensor = { datatype: 'FP32', shape: [2, 4], data: Float32Array.of(1, 5, 10, 4, 0.25, -1, 0.5, 0.125) };
    assert.deepEqual(classify('y', tensor, 2, true, ['a', 'b', 'c', 'd']), {
      datatype: 'BYTES',
      shape: [2, 2],
      data: ['10.000000:2:c', '5.000000:1:b', '0.500000:2:c', '0.250000:0:a'],
    });
  });

  it('answers "value:index" without labels, one row without a batch dimension, and clamps k to the classes', () => {
    const tensor: Tensor = { datatype: 'INT32', shape: [3], data: Int32Array.of(7, -2, 7) };
    assert.deepEqual(classify('y', tensor, 5, false), { datatype: 'BYTES', shape: [3], data: ['7:0', '7:2', '-2:1'] });
  });

  it('reads FP16 as its value', () => {
    const tensor: Tensor = { datatype: 'FP16', shape: [1, 2], data: Uint16Array.of(float32ToFp16Bits(0.5), float32ToFp16Bits(-0.75)) };
    assert.deepEqual(classify('y', tensor, 1, true).data, ['0.500000:0']);
  });

  it('refuses BYTES outputs and counts that are not positive integers', () => {
    assert.throws(() => classify('s', { datatype: 'BYTES', shape: [1], data: ['x'] }, 1, false), /output "s" is BYTES/);
    for (const bad of [0, -1, 1.5, '3', 1001]) {
      assert.throws(() => classificationCount('y', bad), /output "y": parameters.classification must be an integer from 1 to 1000/);
    }
    assert.equal(classificationCount('y', undefined), undefined);
    assert.equal(classificationCount('y', 3), 3);
  });
});

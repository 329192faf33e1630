import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { attr, encodeModel, tensor } from './onnx-builder.js';

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('encodeModel', () => {
  it('builds relu(x @ w + b) with a symbolic batch that ONNX Runtime runs exactly', async () => {
    const bytes = encodeModel({
      graphName: 'dense',
      inputs: [{ name: 'x', type: 'float32', dims: ['batch', 3] }],
      outputs: [{ name: 'y', type: 'float32', dims: ['batch', 2] }],
      initializers: [tensor('w', Float32Array.of(1, -1, 2, 0, -3, 0.5), [3, 2]), tensor('b', Float32Array.of(0.5, -2), [2])],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['z'] },
        { op: 'Relu', inputs: ['z'], outputs: ['y'] },
      ],
      metadata: { purpose: 'test' },
    });
    const session = await ort.InferenceSession.create(bytes);
    assert.deepEqual(session.inputNames, ['x']);
    assert.deepEqual(session.outputNames, ['y']);
    const x = new ort.Tensor('float32', Float32Array.of(1, 2, 3, -1, 0, 1, 0, 0, 0), [3, 3]);
    const { y } = await session.run({ x });
    await session.release();
    // Every product and sum is exact in float32: [-3.5, -1.5], [-3.5, -0.5], [0.5, -2] before Relu.
    assert.deepEqual(y.dims, [3, 2]);
    assert.deepEqual(Array.from(y.data as Float32Array), [0, 0, 0, 0, 0.5, 0]);
    const positive = await run(bytes, { x: new ort.Tensor('float32', Float32Array.of(2, 0, 0), [1, 3]) });
    assert.deepEqual(Array.from(positive.y.data as Float32Array), [2.5, 0]);
  });

  it('writes int, float, ints and tensor attributes and int64/int32 initializers', async () => {
    const bytes = encodeModel({
      graphName: 'attributes',
      opset: 17,
      inputs: [{ name: 'x', type: 'float32', dims: [2, 3] }],
      outputs: [
        { name: 'gemm', type: 'float32', dims: [2, 2] },
        { name: 'rows', type: 'float32', dims: [1, 3] },
        { name: 'mean', type: 'float32', dims: [2] },
        { name: 'count', type: 'int32', dims: [1] },
      ],
      initializers: [
        tensor('w', Float32Array.of(1, 0, 1, 0, 1, 0), [2, 3]),
        tensor('pick', BigInt64Array.of(1n), [1]),
        tensor('n', Int32Array.of(41), [1]),
      ],
      nodes: [
        // alpha * x @ w^T + beta * c
        { op: 'Constant', inputs: [], outputs: ['c'], attributes: { value: attr.tensor(tensor('c', Float32Array.of(10, 20), [2])) } },
        {
          op: 'Gemm',
          inputs: ['x', 'w', 'c'],
          outputs: ['gemm'],
          attributes: { alpha: attr.float(2), beta: attr.float(0.5), transB: attr.int(1) },
        },
        { op: 'Gather', inputs: ['x', 'pick'], outputs: ['rows'], attributes: { axis: attr.int(0) } },
        { op: 'ReduceMean', inputs: ['x'], outputs: ['mean'], attributes: { axes: attr.ints([1]), keepdims: attr.int(0) } },
        { op: 'Constant', inputs: [], outputs: ['one'], attributes: { value_ints: attr.ints([1]) } },
        { op: 'Cast', inputs: ['one'], outputs: ['one32'], attributes: { to: attr.int(6) } },
        { op: 'Add', inputs: ['n', 'one32'], outputs: ['count'] },
      ],
    });
    const out = await run(bytes, { x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]) });
    assert.deepEqual(Array.from(out.gemm.data as Float32Array), [2 * 4 + 5, 2 * 2 + 10, 2 * 10 + 5, 2 * 5 + 10]);
    assert.deepEqual(Array.from(out.rows.data as Float32Array), [4, 5, 6]);
    assert.deepEqual(Array.from(out.mean.data as Float32Array), [2, 5]);
    assert.deepEqual(Array.from(out.count.data as Int32Array), [42]);
  });

  it('rejects a tensor whose dims do not match its data', () => {
    assert.throws(() => tensor('w', new Float32Array(5), [2, 3]), /dims \[2, 3\] hold 6 elements, data has 5/);
    assert.throws(() => tensor('w', [1, 2] as unknown as Float32Array, [2]), /unsupported array type/);
    const castTo = (to: number) =>
      encodeModel({
        graphName: 'g',
        inputs: [],
        outputs: [],
        nodes: [{ op: 'Cast', inputs: ['a'], outputs: ['b'], attributes: { to: attr.int(to) } }],
      });
    assert.throws(() => castTo(2 ** 60), /not a safe integer; pass a bigint/);
  });

  it('writes int64 attributes past 2^53 from a bigint', async () => {
    const big = 2n ** 60n + 3n;
    const bytes = encodeModel({
      graphName: 'big',
      inputs: [{ name: 'x', type: 'int64', dims: [1] }],
      outputs: [{ name: 'y', type: 'int64', dims: [1] }],
      nodes: [
        { op: 'Constant', inputs: [], outputs: ['k'], attributes: { value_int: attr.int(big) } },
        { op: 'Add', inputs: ['x', 'k'], outputs: ['y'] },
      ],
    });
    const { y } = await run(bytes, { x: new ort.Tensor('int64', BigInt64Array.of(-5n), [1]) });
    assert.deepEqual(Array.from(y.data as BigInt64Array), [big - 5n]);
  });
});

/** This machine's single-precision matrix-multiply rate, as ONNX Runtime (MLAS) reaches it. */
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { encodeModel } from '../../src/onnx/onnx-builder.js';

export interface MatMulProbe {
  /** GFLOP/s of one measurement: the median of `runs` products. */
  measure(runs?: number): Promise<number>;
  release(): Promise<void>;
}

/** A session computing C = A·B for n × n matrices with one intra-op thread per core. */
export async function matMulProbe(n = 2048): Promise<MatMulProbe> {
  const bytes = encodeModel({
    graphName: 'matmul',
    inputs: [
      { name: 'a', type: 'float32', dims: [n, n] },
      { name: 'b', type: 'float32', dims: [n, n] },
    ],
    outputs: [{ name: 'c', type: 'float32', dims: [n, n] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
  });
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const fill = () => Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const feeds = { a: new ort.Tensor('float32', fill(), [n, n]), b: new ort.Tensor('float32', fill(), [n, n]) };
  for (let i = 0; i < 2; i += 1) await session.run(feeds);
  return {
    async measure(runs = 5) {
      const seconds: number[] = [];
      for (let i = 0; i < runs; i += 1) {
        const started = performance.now();
        await session.run(feeds);
        seconds.push((performance.now() - started) / 1000);
      }
      seconds.sort((x, y) => x - y);
      return (2 * n ** 3) / seconds[Math.floor(runs / 2)]! / 1e9;
    },
    release: () => session.release(),
  };
}

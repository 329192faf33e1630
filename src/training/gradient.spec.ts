import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { headLayout, initParams } from './head-layout.js';
import { OnnxTrainEngine } from './onnx-train-engine.js';
import { type ReferenceBatch, referenceGradient, referenceHiddenPre } from './reference.js';
import { Rng } from './rng.js';
import { dropoutWidth, gradientModel } from './step-graph.js';
import type { HeadSpec, LossKind } from './types.js';

const D = 5;
const HIDDEN = 7;
const C = 3;
const ROWS = 4;
const HEADS: Array<[string, HeadSpec]> = [
  ['linear', { kind: 'linear', inputDim: D, outputDim: C }],
  ['mlp relu', { kind: 'mlp', inputDim: D, outputDim: C, hidden: HIDDEN, activation: 'relu' }],
  ['mlp gelu', { kind: 'mlp', inputDim: D, outputDim: C, hidden: HIDDEN, activation: 'gelu' }],
  ['mlp tanh', { kind: 'mlp', inputDim: D, outputDim: C, hidden: HIDDEN, activation: 'tanh' }],
  ['mlp gelu, dropout', { kind: 'mlp', inputDim: D, outputDim: C, hidden: HIDDEN, activation: 'gelu', dropout: 0.5 }],
  ['linear, dropout', { kind: 'linear', inputDim: D, outputDim: C, dropout: 0.25 }],
];
const LOSSES: LossKind[] = ['cross-entropy', 'mse'];

/** float32-representable inputs, so the float64 reference and the float32 graph see the same numbers. */
function problem(head: HeadSpec, loss: LossKind, seed: number) {
  const rng = Rng.fromSeed(seed);
  const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (2 * rng.nextFloat() - 1) * scale);
  const params = initParams(head, rng);
  for (const s of headLayout(head).slices) if (!s.decay) params.set(uniform(s.size, 0.3), s.offset);
  const x = uniform(ROWS * D, 1.5);
  const targets = new Float32Array(ROWS * C);
  for (let r = 0; r < ROWS; r += 1) {
    if (loss === 'mse') targets.set(uniform(C, 2), r * C);
    else targets[r * C + rng.nextBelow(C)] = 1;
  }
  const p = head.dropout ?? 0;
  const mask = p > 0 ? Float32Array.from({ length: ROWS * dropoutWidth(head) }, () => (rng.nextFloat() < p ? 0 : 1 / (1 - p))) : undefined;
  return { params, batch: { x, targets, rows: ROWS, mask } satisfies ReferenceBatch };
}

/** Central differences of the float64 reference loss; h = 1e-6 leaves about 1e-9 relative error. */
function finiteDifferences(head: HeadSpec, loss: LossKind, params: Float32Array, batch: ReferenceBatch): Float64Array {
  const h = 1e-6;
  const p = Float64Array.from(params);
  return p.map((v, i) => {
    p[i] = v + h;
    const up = referenceGradient(head, loss, p, batch).loss;
    p[i] = v - h;
    const down = referenceGradient(head, loss, p, batch).loss;
    p[i] = v;
    return (up - down) / (2 * h);
  });
}

/** Largest elementwise relative error, entries below 1e-3 of the largest measured against that floor. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < expected.length; i += 1) scale = Math.max(scale, Math.abs(expected[i]!));
  let worst = 0;
  for (let i = 0; i < expected.length; i += 1) {
    const a = actual[i]!;
    const e = expected[i]!;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(Math.abs(a), Math.abs(e), 1e-3 * scale));
  }
  return worst;
}

const sessions: ort.InferenceSession[] = [];
after(async () => {
  for (const s of sessions) await s.release();
});

async function onnxGradient(head: HeadSpec, loss: LossKind, params: Float32Array, batch: ReferenceBatch) {
  const session = await ort.InferenceSession.create(gradientModel(head, loss));
  sessions.push(session);
  const feeds: Record<string, ort.Tensor> = {
    features: new ort.Tensor('float32', batch.x as Float32Array, [ROWS, D]),
    targets: new ort.Tensor('float32', batch.targets as Float32Array, [ROWS, C]),
    params: new ort.Tensor('float32', params, [params.length]),
    inv_batch: new ort.Tensor('float32', Float32Array.of(1 / ROWS), []),
  };
  if (batch.mask) feeds.mask = new ort.Tensor('float32', batch.mask as Float32Array, [ROWS, dropoutWidth(head)]);
  const out = await session.run(feeds);
  return { loss: (out.loss!.data as Float32Array)[0]!, grad: out.grad!.data as Float32Array };
}

/** The gradient the training loop graph applies: one sgd step at rate 1 moves params by -grad. */
async function loopGradient(head: HeadSpec, loss: LossKind, params: Float32Array, batch: ReferenceBatch): Promise<Float64Array> {
  const engine = await OnnxTrainEngine.create({ head, loss, optimizer: { kind: 'sgd', learningRate: 1 } }, 1);
  try {
    const targets = batch.targets as Float32Array;
    const labels = Int32Array.from({ length: ROWS }, (_, r) => targets.subarray(r * C, (r + 1) * C).indexOf(1));
    const out = await engine.runSteps({
      features: batch.x as Float32Array,
      ...(loss === 'mse' ? { targets } : { labels }),
      n: ROWS,
      indices: Int32Array.from({ length: ROWS }, (_, i) => i),
      steps: 1,
      batch: ROWS,
      rates: Float32Array.of(1),
      masks: batch.mask as Float32Array | undefined,
      params,
      moments: [],
    });
    return Float64Array.from(params, (p, i) => p - out.params[i]!);
  } finally {
    await engine.release();
  }
}

describe('gradients match central finite differences', () => {
  for (const [label, head] of HEADS) {
    for (const loss of LOSSES) {
      it(`${label}, ${loss}`, async () => {
        const { params, batch } = problem(head, loss, 7);
        if (head.kind === 'mlp') {
          const nearest = Math.min(...referenceHiddenPre(head, params, batch).map(Math.abs));
          assert.ok(nearest > 1e-3, `a pre-activation at ${nearest} is too close to relu's kink for finite differences`);
        }
        const fd = finiteDifferences(head, loss, params, batch);
        const reference = referenceGradient(head, loss, params, batch);
        assert.ok(Math.max(...fd.map(Math.abs)) > 1e-3, 'the gradient is not trivially zero');
        assert.ok(relativeError(reference.grad, fd) < 1e-6, `reference: ${relativeError(reference.grad, fd)}`);

        const onnx = await onnxGradient(head, loss, params, batch);
        assert.ok(Math.abs(onnx.loss - reference.loss) <= 1e-6 * Math.max(1, reference.loss), `loss ${onnx.loss} vs ${reference.loss}`);
        assert.ok(relativeError(onnx.grad, fd) < 1e-3, `ONNX gradient graph: ${relativeError(onnx.grad, fd)}`);
        const applied = await loopGradient(head, loss, params, batch);
        assert.ok(relativeError(applied, fd) < 1e-3, `ONNX training loop: ${relativeError(applied, fd)}`);
      });
    }
  }
});

/**
 * A plain float64 TypeScript forward/backward pass and optimizer update, written from the formulas
 * (types.ts) rather than from the graphs: the tests check the ONNX step graphs and finite
 * differences against it. Slow (a few GFLOP/s at best); never used to train.
 */
import { headLayout } from './head-layout.js';
import { optimizerConstants } from './schedule.js';
import type { Activation, HeadSpec, LossKind, OptimizerSpec } from './types.js';

export interface ReferenceBatch {
  /** rows × inputDim. */
  x: ArrayLike<number>;
  /** rows × outputDim: one-hot for cross-entropy. */
  targets: ArrayLike<number>;
  rows: number;
  /** rows × (last layer's input width): the inverted-dropout mask, when training with dropout. */
  mask?: ArrayLike<number>;
}

export interface ReferenceResult {
  loss: number;
  logits: Float64Array;
  /** In the flat layout of headLayout. */
  grad: Float64Array;
}

/** y[r, j] = b[j] + sum_i x[r, i] w[i, j], with w at params[wOffset..] and b right after it. */
function dense(
  x: ArrayLike<number>,
  rows: number,
  inDim: number,
  outDim: number,
  params: ArrayLike<number>,
  wOffset: number,
): Float64Array {
  const y = new Float64Array(rows * outDim);
  const bOffset = wOffset + inDim * outDim;
  for (let r = 0; r < rows; r += 1) {
    for (let j = 0; j < outDim; j += 1) {
      let sum = params[bOffset + j]!;
      for (let i = 0; i < inDim; i += 1) sum += x[r * inDim + i]! * params[wOffset + i * outDim + j]!;
      y[r * outDim + j] = sum;
    }
  }
  return y;
}

/** erf to about 1e-14: its Taylor series near 0, the erfc continued fraction further out. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n += 1) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = a;
  for (let k = 80; k >= 1; k -= 1) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
  return Math.sign(x) * (1 - erfc);
}

function activate(kind: Activation, z: number): number {
  if (kind === 'relu') return z > 0 ? z : 0;
  if (kind === 'tanh') return Math.tanh(z);
  return (z * (1 + erf(z / Math.SQRT2))) / 2;
}

function activationDerivative(kind: Activation, z: number): number {
  if (kind === 'relu') return z > 0 ? 1 : 0;
  if (kind === 'tanh') return 1 - Math.tanh(z) ** 2;
  return (1 + erf(z / Math.SQRT2)) / 2 + (z * Math.exp((-z * z) / 2)) / Math.sqrt(2 * Math.PI);
}

/** Mean loss of logits against targets, and dLoss/dLogits. */
function lossAndDelta(
  kind: LossKind,
  logits: Float64Array,
  targets: ArrayLike<number>,
  rows: number,
  outDim: number,
): { loss: number; delta: Float64Array } {
  const delta = new Float64Array(logits.length);
  let loss = 0;
  for (let r = 0; r < rows; r += 1) {
    const row = logits.subarray(r * outDim, (r + 1) * outDim);
    if (kind === 'mse') {
      for (let j = 0; j < outDim; j += 1) {
        const diff = row[j]! - targets[r * outDim + j]!;
        loss += (diff * diff) / (rows * outDim);
        delta[r * outDim + j] = (2 * diff) / (rows * outDim);
      }
      continue;
    }
    const max = Math.max(...row);
    let total = 0;
    for (const z of row) total += Math.exp(z - max);
    const logTotal = Math.log(total) + max;
    for (let j = 0; j < outDim; j += 1) {
      const y = targets[r * outDim + j]!;
      loss -= (y * (row[j]! - logTotal)) / rows;
      delta[r * outDim + j] = (Math.exp(row[j]! - logTotal) - y) / rows;
    }
  }
  return { loss, delta };
}

/** Loss, logits and gradient of one batch. */
export function referenceGradient(head: HeadSpec, kind: LossKind, params: ArrayLike<number>, batch: ReferenceBatch): ReferenceResult {
  const layout = headLayout(head);
  const grad = new Float64Array(layout.size);
  const { rows } = batch;
  const layers = layout.layers;
  let hiddenPre: Float64Array | undefined;
  let lastInput: ArrayLike<number> = batch.x;
  if (head.kind === 'mlp') {
    hiddenPre = dense(batch.x, rows, layers[0]![0], layers[0]![1], params, 0);
    lastInput = hiddenPre.map((z) => activate(head.activation ?? 'relu', z));
  }
  if (batch.mask) lastInput = Float64Array.from(lastInput, (v, i) => v * batch.mask![i]!);
  const [lastIn, outDim] = layers[layers.length - 1]!;
  const lastOffset = layout.slices[2 * (layers.length - 1)]!.offset;
  const logits = dense(lastInput, rows, lastIn, outDim, params, lastOffset);
  const { loss, delta } = lossAndDelta(kind, logits, batch.targets, rows, outDim);

  // dW[i, j] = sum_r x[r, i] dy[r, j] and db[j] = sum_r dy[r, j], for W at `offset`.
  const backDense = (input: ArrayLike<number>, dy: Float64Array, inDim: number, width: number, offset: number) => {
    for (let r = 0; r < rows; r += 1) {
      for (let j = 0; j < width; j += 1) {
        const d = dy[r * width + j]!;
        grad[offset + inDim * width + j] += d;
        for (let i = 0; i < inDim; i += 1) grad[offset + i * width + j] += input[r * inDim + i]! * d;
      }
    }
  };
  backDense(lastInput, delta, lastIn, outDim, lastOffset);
  if (head.kind === 'mlp') {
    const [inDim, hidden] = layers[0]!;
    const dPre = new Float64Array(rows * hidden);
    for (let r = 0; r < rows; r += 1) {
      for (let h = 0; h < hidden; h += 1) {
        let dA = 0;
        for (let j = 0; j < outDim; j += 1) dA += delta[r * outDim + j]! * params[lastOffset + h * outDim + j]!;
        if (batch.mask) dA *= batch.mask[r * hidden + h]!;
        dPre[r * hidden + h] = dA * activationDerivative(head.activation ?? 'relu', hiddenPre![r * hidden + h]!);
      }
    }
    backDense(batch.x, dPre, inDim, hidden, 0);
  }
  return { loss, logits, grad };
}

/** Pre-activations of an mlp's hidden layer (tests keep them away from relu's kink). */
export function referenceHiddenPre(head: HeadSpec, params: ArrayLike<number>, batch: ReferenceBatch): Float64Array {
  const [inDim, hidden] = headLayout(head).layers[0]!;
  return dense(batch.x, batch.rows, inDim, hidden, params, 0);
}

/**
 * One optimizer update exactly as documented on OptimizerSpec (PyTorch's form, with the bias
 * corrections spelled out), `step` 0-based; `lr` is the scheduled rate of this step.
 */
export function referenceUpdate(
  head: HeadSpec,
  spec: OptimizerSpec,
  params: ArrayLike<number>,
  gradient: ArrayLike<number>,
  moments: Float64Array[],
  step: number,
  lr: number,
): { params: Float64Array; moments: Float64Array[] } {
  const c = optimizerConstants(spec);
  const decayed = new Set(
    headLayout(head)
      .slices.filter((s) => s.decay)
      .flatMap((s) => Array.from({ length: s.size }, (_, i) => s.offset + i)),
  );
  const next = Float64Array.from(params);
  const m = moments.map((x) => Float64Array.from(x));
  const t = step + 1;
  for (let i = 0; i < next.length; i += 1) {
    const g = gradient[i]! + (decayed.has(i) ? c.weightDecay * params[i]! : 0);
    if (spec.kind === 'sgd') {
      next[i] -= lr * g;
    } else if (spec.kind === 'momentum') {
      m[0]![i] = c.momentum * m[0]![i]! + g;
      next[i] -= lr * m[0]![i]!;
    } else {
      m[0]![i] = c.beta1 * m[0]![i]! + (1 - c.beta1) * g;
      m[1]![i] = c.beta2 * m[1]![i]! + (1 - c.beta2) * g * g;
      const denominator = Math.sqrt(m[1]![i]!) / Math.sqrt(1 - c.beta2 ** t) + c.epsilon;
      next[i] -= ((lr / (1 - c.beta1 ** t)) * m[0]![i]!) / denominator;
    }
  }
  return { params: next, moments: m };
}

import { attr } from '../onnx/onnx-builder.js';
import type { GraphNodes } from './graph-nodes.js';
import type { Forward, LayerParams } from './head-graph.js';
import type { OptimizerConstants } from './schedule.js';
import type { HeadSpec, LossKind, OptimizerKind } from './types.js';

/**
 * The hand-derived backward pass and the optimizer update as ONNX nodes. Notation: B the batch,
 * Y the targets (one-hot rows for cross-entropy), Z the logits.
 */

/**
 * cross-entropy: loss = -sum(Y ⊙ logsoftmax(Z)) / B, dZ = (softmax(Z) - Y) / B.
 * mse:           loss = sum((Z - Y)^2) / (B C),  dZ = 2 (Z - Y) / (B C).
 * `invBatch` is the float scalar 1 / B, fed per call so one graph serves every batch size.
 */
export function lossNodes(
  g: GraphNodes,
  kind: LossKind,
  logits: string,
  targets: string,
  invBatch: string,
  outputDim: number,
): { loss: string; dLogits: string } {
  const sumAll = (t: string) => g.op('ReduceSum', [t], { keepdims: attr.int(0) });
  if (kind === 'cross-entropy') {
    const logp = g.op('LogSoftmax', [logits], { axis: attr.int(1) });
    const loss = g.mul(g.op('Neg', [sumAll(g.mul(targets, logp))]), invBatch);
    const dLogits = g.mul(g.sub(g.op('Exp', [logp]), targets), invBatch);
    return { loss, dLogits };
  }
  const diff = g.sub(logits, targets);
  const loss = g.mul(sumAll(g.mul(diff, diff)), g.mul(invBatch, g.scalar(1 / outputDim)));
  const dLogits = g.mul(diff, g.mul(invBatch, g.scalar(2 / outputDim)));
  return { loss, dLogits };
}

/**
 * Gradients of the loss with respect to every parameter, concatenated in the flat layout
 * (w1, b1[, w2, b2]): for a layer y = x·W + b, dW = xᵀ·dy and db = the column sums of dy; the
 * hidden layer's dy comes back through W2ᵀ, the dropout mask and the activation's derivative.
 * No gradient flows into the features: the backbone is frozen. With `weightDecay`, the weight
 * gradients include weightDecay · W (biases are not decayed), added by the Gemm itself
 * (C = W, beta = weightDecay) rather than by two more passes over the parameters.
 */
export function backwardNodes(
  g: GraphNodes,
  head: HeadSpec,
  x: string,
  layers: LayerParams[],
  forward: Forward,
  dLogits: string,
  mask?: string,
  weightDecay = 0,
): string {
  const rows0 = g.int64s('axes', [0]);
  const flat = g.int64s('shape', [-1]);
  const columnSums = (t: string) => g.op('ReduceSum', [t, rows0], { keepdims: attr.int(0) });
  const weightGrad = (input: string, dy: string, layer: LayerParams) => {
    const decayed = weightDecay > 0 ? [layer.weight] : [];
    return g.op('Reshape', [g.op('Gemm', [input, dy, ...decayed], { transA: attr.int(1), beta: attr.float(weightDecay) }), flat]);
  };
  const last = [weightGrad(forward.lastInput, dLogits, layers[layers.length - 1]!), columnSums(dLogits)];
  if (head.kind === 'linear') return g.op('Concat', last, { axis: attr.int(0) });

  let dHidden = g.op('Gemm', [dLogits, layers[1]!.weight], { transB: attr.int(1) });
  if (mask) dHidden = g.mul(dHidden, mask);
  const dPre = activationGradNodes(g, head.activation ?? 'relu', forward, dHidden);
  return g.op('Concat', [weightGrad(x, dPre, layers[0]!), columnSums(dPre), ...last], { axis: attr.int(0) });
}

/** dL/dz from dL/da for a = act(z): relu 1[z > 0]; tanh 1 - a^2; gelu Phi(z) + z phi(z). */
function activationGradNodes(g: GraphNodes, kind: NonNullable<HeadSpec['activation']>, forward: Forward, dA: string): string {
  const z = forward.preActivation!;
  switch (kind) {
    case 'relu':
      return g.op('Where', [g.op('Greater', [z, g.scalar(0)]), dA, g.scalar(0)]);
    case 'tanh': {
      const a = forward.activation!;
      return g.mul(dA, g.sub(g.scalar(1), g.mul(a, a)));
    }
    case 'gelu': {
      const pdf = g.mul(g.op('Exp', [g.mul(g.mul(z, z), g.scalar(-0.5))]), g.scalar(1 / Math.sqrt(2 * Math.PI)));
      return g.mul(dA, g.add(forward.cdf!, g.mul(z, pdf)));
    }
    default:
      return assertNever(kind);
  }
}

export interface UpdateInputs {
  params: string;
  grad: string;
  /** velocity (momentum); m and v (adam). */
  moments: string[];
  /** Float scalars of stepScalars(): the step's rate and (adam) epsilon. */
  rate: string;
  epsilon?: string;
}

/** The update rules documented on OptimizerSpec, over the whole flat vector at once (weight decay is in `grad`). */
export function updateNodes(
  g: GraphNodes,
  kind: OptimizerKind,
  c: OptimizerConstants,
  u: UpdateInputs,
): { params: string; moments: string[] } {
  const { grad } = u;
  const step = (direction: string) => g.sub(u.params, g.mul(direction, u.rate));
  switch (kind) {
    case 'sgd':
      return { params: step(grad), moments: [] };
    case 'momentum': {
      const velocity = g.add(g.mul(u.moments[0]!, g.scalar(c.momentum)), grad);
      return { params: step(velocity), moments: [velocity] };
    }
    case 'adam': {
      // Moments kept without their (1 - beta) factors, which stepScalars() folds into rate and epsilon.
      const m = g.add(g.mul(u.moments[0]!, g.scalar(c.beta1)), grad);
      const v = g.add(g.mul(u.moments[1]!, g.scalar(c.beta2)), g.mul(grad, grad));
      const denominator = g.add(g.op('Sqrt', [v]), u.epsilon!);
      return { params: step(g.op('Div', [m, denominator])), moments: [m, v] };
    }
    default:
      return assertNever(kind);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected kind ${String(x)}`);
}

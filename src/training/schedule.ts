import type { OptimizerSpec } from './types.js';

/** Optimizer constants with their defaults filled in. */
export interface OptimizerConstants {
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export function optimizerConstants(spec: OptimizerSpec): OptimizerConstants {
  return {
    momentum: spec.momentum ?? 0.9,
    beta1: spec.beta1 ?? 0.9,
    beta2: spec.beta2 ?? 0.999,
    epsilon: spec.epsilon ?? 1e-8,
    weightDecay: spec.weightDecay ?? 0,
  };
}

/**
 * The learning rate of update number `step` (0-based) out of `totalSteps`:
 * - warm-up, step < w: lr * (step + 1) / w;
 * - then, with p = (step - w) / (totalSteps - w) in [0, 1):
 *   constant lr; linear lr * (1 - p); cosine lr * (1 + cos(pi * p)) / 2.
 */
export function learningRateAt(spec: OptimizerSpec, step: number, totalSteps: number): number {
  const lr = spec.learningRate;
  const warmup = spec.warmupSteps ?? 0;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const p = (step - warmup) / Math.max(1, totalSteps - warmup);
  const schedule = spec.schedule ?? 'constant';
  switch (schedule) {
    case 'constant':
      return lr;
    case 'linear':
      return lr * (1 - p);
    case 'cosine':
      return (lr * (1 + Math.cos(Math.PI * p))) / 2;
    default:
      return assertNever(schedule);
  }
}

/**
 * What the step graph takes per update: `rate` multiplies the update direction; `epsilon` is adam's.
 * The graph keeps adam's moments as M = m / (1 - b1) and V = v / (1 - b2), so M' = b1 M + g and
 * V' = b2 V + g^2 (two elementwise passes fewer per step than m and v), and it updates
 * w -= rate * M' / (sqrt(V') + epsilon). With t = step + 1, PyTorch's
 * lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) is that with
 * rate = lr (1 - b1) sqrt(1 - b2^t) / ((1 - b1^t) sqrt(1 - b2)) and epsilon = eps sqrt(1 - b2^t) / sqrt(1 - b2).
 */
export function stepScalars(spec: OptimizerSpec, step: number, totalSteps: number): { rate: number; epsilon: number } {
  const lr = learningRateAt(spec, step, totalSteps);
  const { beta1, beta2, epsilon } = optimizerConstants(spec);
  if (spec.kind !== 'adam') return { rate: lr, epsilon };
  const t = step + 1;
  const root = Math.sqrt(1 - beta2 ** t) / Math.sqrt(1 - beta2);
  return { rate: (lr * (1 - beta1) * root) / (1 - beta1 ** t), epsilon: epsilon * root };
}

/** Moment vectors each optimizer keeps. */
export function momentCount(kind: OptimizerSpec['kind']): number {
  return kind === 'sgd' ? 0 : kind === 'momentum' ? 1 : 2;
}

function assertNever(x: never): never {
  throw new Error(`unexpected schedule ${String(x)}`);
}

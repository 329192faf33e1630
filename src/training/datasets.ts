import { validationCount } from './options.js';
import { Rng } from './rng.js';
import type { Dataset, Evaluation, LossKind } from './types.js';

/** Salt of the validation split's generator, so the split never shares draws with training. */
const SPLIT_SALT = 0x7a11d0e5;

/** The rows of `d` at `rows`, in that order. */
export function pickRows(d: Dataset, rows: Int32Array, inputDim: number, outputDim: number): Dataset {
  const features = new Float32Array(rows.length * inputDim);
  rows.forEach((r, i) => features.set(d.features.subarray(r * inputDim, (r + 1) * inputDim), i * inputDim));
  const picked: Dataset = { features, n: rows.length };
  if (d.labels) picked.labels = Int32Array.from(rows, (r) => d.labels![r]!);
  if (d.targets) {
    const targets = new Float32Array(rows.length * outputDim);
    rows.forEach((r, i) => targets.set(d.targets!.subarray(r * outputDim, (r + 1) * outputDim), i * outputDim));
    picked.targets = targets;
  }
  return picked;
}

/**
 * Holds out round(n * split) examples, chosen by a generator seeded from `seed` alone: a resumed
 * run recomputes the same split. Both parts keep the original order.
 */
export function splitValidation(d: Dataset, split: number, seed: number, inputDim: number, outputDim: number): { train: Dataset; validation: Dataset } {
  const held = validationCount(d.n, split);
  const order = Rng.fromSeed((seed ^ SPLIT_SALT) >>> 0).permutation(d.n);
  const validationRows = order.slice(0, held).sort();
  const trainRows = order.slice(held).sort();
  return { train: pickRows(d, trainRows, inputDim, outputDim), validation: pickRows(d, validationRows, inputDim, outputDim) };
}

/** Mean loss (and accuracy) of logits [n, C] against `d`, accumulated in float64. */
export function evaluateLogits(loss: LossKind, logits: Float32Array, d: Dataset, outputDim: number): Evaluation {
  if (loss === 'mse') {
    let sum = 0;
    for (let i = 0; i < logits.length; i += 1) sum += (logits[i]! - d.targets![i]!) ** 2;
    const mse = sum / logits.length;
    return { loss: mse, mse };
  }
  let sum = 0;
  let correct = 0;
  for (let i = 0; i < d.n; i += 1) {
    const row = logits.subarray(i * outputDim, (i + 1) * outputDim);
    const best = argmax(row);
    let total = 0;
    for (const z of row) total += Math.exp(z - row[best]!);
    sum += Math.log(total) + row[best]! - row[d.labels![i]!]!;
    if (best === d.labels![i]) correct += 1;
  }
  return { loss: sum / d.n, accuracy: correct / d.n };
}

/** Index of the largest value; the first on ties. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}

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
export function splitValidation(
  d: Dataset,
  split: number,
  seed: number,
  inputDim: number,
  outputDim: number,
): { train: Dataset; validation: Dataset } {
  const held = validationCount(d.n, split);
  const order = Rng.fromSeed((seed ^ SPLIT_SALT) >>> 0).permutation(d.n);
  const validationRows = order.slice(0, held).sort();
  const trainRows = order.slice(held).sort();
  return { train: pickRows(d, trainRows, inputDim, outputDim), validation: pickRows(d, validationRows, inputDim, outputDim) };
}

/** Mean loss (and accuracy) of logits [n, C] against `d`, accumulated in float64. */
export function evaluateLogits(loss: LossKind, logits: Float32Array, d: Dataset, outputDim: number): Evaluation {
  const sum = new EvaluationSum(loss, d, outputDim);
  sum.add(0, logits);
  return sum.result();
}

/**
 * evaluateLogits() over logits that come a block of rows at a time, in order (the same additions
 * in the same order, so the same numbers): the logits of a whole dataset are never held at once.
 */
export class EvaluationSum {
  private sum = 0;
  private correct = 0;
  private values = 0;

  constructor(
    private readonly loss: LossKind,
    private readonly d: Dataset,
    private readonly outputDim: number,
  ) {}

  /** The logits of rows `start` onwards. */
  add(start: number, logits: Float32Array): void {
    const { d, outputDim } = this;
    if (this.loss === 'mse') {
      const offset = start * outputDim;
      for (let i = 0; i < logits.length; i += 1) this.sum += (logits[i]! - d.targets![offset + i]!) ** 2;
      this.values += logits.length;
      return;
    }
    const rows = logits.length / outputDim;
    for (let i = 0; i < rows; i += 1) {
      const row = logits.subarray(i * outputDim, (i + 1) * outputDim);
      const label = d.labels![start + i]!;
      const best = argmax(row);
      let total = 0;
      for (const z of row) total += Math.exp(z - row[best]!);
      this.sum += Math.log(total) + row[best]! - row[label]!;
      if (best === label) this.correct += 1;
    }
  }

  result(): Evaluation {
    if (this.loss === 'mse') {
      const mse = this.sum / this.values;
      return { loss: mse, mse };
    }
    return { loss: this.sum / this.d.n, accuracy: this.correct / this.d.n };
  }
}

/** Index of the largest value; the first on ties. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}

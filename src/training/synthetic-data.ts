/** Seeded synthetic feature sets for the training tests and bench/train. */
import { Rng } from './rng.js';
import type { Dataset } from './types.js';

/** A standard normal draw (Box–Muller). */
function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
}

/**
 * `classes` Gaussian clusters in `dim` dimensions: centres drawn with norm about `separation`,
 * points at unit spread around them; labels cycle through the classes.
 */
export function clusters(n: number, dim: number, classes: number, seed: number, separation = 6): Dataset {
  const rng = Rng.fromSeed(seed);
  const centres = Array.from({ length: classes }, () =>
    Float64Array.from({ length: dim }, () => (normal(rng) * separation) / Math.sqrt(dim)),
  );
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i += 1) {
    const label = i % classes;
    labels[i] = label;
    for (let j = 0; j < dim; j += 1) features[i * dim + j] = centres[label]![j]! + normal(rng);
  }
  return { features, n, labels };
}

/** Features uniform in [-1, 1]; targets = f(features row), one output. */
export function regression(n: number, dim: number, seed: number, f: (x: Float32Array) => number): Dataset {
  const rng = Rng.fromSeed(seed);
  const features = Float32Array.from({ length: n * dim }, () => 2 * rng.nextFloat() - 1);
  const targets = Float32Array.from({ length: n }, (_, i) => f(features.subarray(i * dim, (i + 1) * dim)));
  return { features, n, targets };
}

/** Features with labels drawn independently of them: nothing to learn, so a model can only overfit. */
export function noise(n: number, dim: number, classes: number, seed: number): Dataset {
  const rng = Rng.fromSeed(seed);
  return {
    features: Float32Array.from({ length: n * dim }, () => normal(rng)),
    n,
    labels: Int32Array.from({ length: n }, () => rng.nextBelow(classes)),
  };
}

/** Cosine similarity of every pair of vectors: a symmetric matrix with 1 on the diagonal (0 for a zero vector). */
export function cosineMatrix(vectors: ReadonlyArray<ArrayLike<number>>): number[][] {
  const norms = vectors.map((v) => Math.sqrt(dot(v, v)));
  return vectors.map((a, i) => vectors.map((b, j) => (norms[i]! === 0 || norms[j]! === 0 ? 0 : dot(a, b) / (norms[i]! * norms[j]!))));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i]! * b[i]!;
  return sum;
}

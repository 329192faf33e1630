/**
 * The filters of sampling over a vocabulary-sized logits row, without sorting it: top-k by a heap of
 * k values, top-p by buckets of log-probability, min-p by one comparison per token. They work in
 * place on a list of candidate ids and their weights exp(logit - max), kept by the Sampler.
 */

const BUCKETS = 2048;
/** Log-probabilities (relative to the most likely token) the top-p buckets cover; anything less likely shares the last bucket. */
const BUCKET_SPAN = 64;

/** Scratch for top-k and top-p, allocated once per vocabulary size: `order` and `weights` are the Sampler's candidates. */
export class FilterScratch {
  /** Top-p: the candidate ids of the boundary bucket. */
  readonly ids: Int32Array;
  /** Top-k: a min-heap of the k largest values. */
  readonly heap: Float32Array;
  readonly bucketMass = new Float64Array(BUCKETS);

  constructor(
    readonly order: Int32Array,
    readonly weights: Float64Array,
  ) {
    this.ids = new Int32Array(order.length);
    this.heap = new Float32Array(order.length);
  }
}

function bucketOf(logWeight: number): number {
  const bucket = Math.floor(-logWeight * (BUCKETS / BUCKET_SPAN));
  return bucket < BUCKETS ? bucket : BUCKETS - 1;
}

/**
 * Top-p over order[from..to) (Hugging Face's rule: drop a token when the ascending cumulative
 * probability up to it is at most 1 - p, i.e. keep it while the mass of the more likely tokens is
 * below p; the most likely token always stays). One pass adds the candidates' mass into buckets of
 * log-probability, which finds the bucket where the mass crosses `cut`: every token above that
 * bucket stays, every one below goes, and only the tokens of that one bucket are ordered, by a heap
 * popped until the mass is reached. Kept ids end up at the end of `order`; returns their count.
 */
export function topP(scratch: FilterScratch, work: Float32Array, max: number, from: number, to: number, cut: number): number {
  const { order, weights, bucketMass, ids } = scratch;
  bucketMass.fill(0);
  for (let i = from; i < to; i += 1) bucketMass[bucketOf(work[order[i]!]! - max)]! += weights[order[i]!]!;
  let before = 0;
  let boundary = 0;
  while (boundary < BUCKETS - 1 && before + bucketMass[boundary]! < cut) before += bucketMass[boundary++]!;
  let write = to;
  let pending = 0;
  for (let read = to - 1; read >= from; read -= 1) {
    const id = order[read]!;
    const bucket = bucketOf(work[id]! - max);
    if (bucket < boundary) order[--write] = id;
    else if (bucket === boundary) ids[pending++] = id;
  }
  const sure = to - write;
  const popped = popWhileBelow(ids, pending, weights, before, cut, sure === 0);
  for (let i = 0; i < popped; i += 1) order[--write] = ids[pending - 1 - i]!;
  return sure + popped;
}

/** The k-th largest value (k >= 1) by a min-heap of k values in `heap`: O(n log k), no sort. */
export function kthLargest(values: Float32Array, k: number, heap: Float32Array): number {
  let size = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    if (size < k) {
      let at = size;
      size += 1;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (heap[parent]! <= v) break;
        heap[at] = heap[parent]!;
        at = parent;
      }
      heap[at] = v;
    } else if (v > heap[0]!) {
      siftDownMin(heap, size, v);
    }
  }
  return heap[0]!;
}

function siftDownMin(heap: Float32Array, size: number, v: number): void {
  let at = 0;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child += 1;
    if (heap[child]! >= v) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = v;
}

/**
 * Pops ids[0..size) from a max-heap (by weight, the lower id first on ties) while the mass before
 * each one is below `cut` (the first one always when `keepFirst`). The popped ids end up at the end
 * of ids[0..size), the first popped last. Returns how many were popped.
 */
function popWhileBelow(ids: Int32Array, size: number, weights: Float64Array, before: number, cut: number, keepFirst: boolean): number {
  const first = (a: number, b: number): boolean => weights[a]! > weights[b]! || (weights[a] === weights[b] && a < b);
  for (let i = (size >> 1) - 1; i >= 0; i -= 1) siftDownMax(ids, 0, size, i, first);
  let mass = before;
  let popped = 0;
  while (popped < size && ((keepFirst && popped === 0) || mass < cut)) {
    const last = size - 1 - popped;
    const top = ids[0]!;
    ids[0] = ids[last]!;
    ids[last] = top;
    mass += weights[top]!;
    popped += 1;
    siftDownMax(ids, 0, size - popped, 0, first);
  }
  return popped;
}

function siftDownMax(order: Int32Array, from: number, size: number, start: number, before: (a: number, b: number) => boolean): void {
  let at = start;
  const item = order[from + at]!;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && before(order[from + child + 1]!, order[from + child]!)) child += 1;
    if (!before(order[from + child]!, item)) break;
    order[from + at] = order[from + child]!;
    at = child;
  }
  order[from + at] = item;
}

/**
 * Min-p over order[from..to): keeps tokens whose probability is at least minP times the largest
 * (weights are exp(logit - max), so the largest is 1). Kept tokens are moved to the end, in order.
 */
export function keepAtLeast(order: Int32Array, from: number, to: number, weights: Float64Array, minP: number): number {
  let write = to;
  for (let read = to - 1; read >= from; read -= 1) {
    const id = order[read]!;
    if (weights[id]! >= minP) order[--write] = id;
  }
  return to - write;
}

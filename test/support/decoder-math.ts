/**
 * Qwen2's forward pass written out in plain TypeScript from the weights of `decoder-model.ts`, with
 * no ONNX: embedding, per layer RMSNorm, q/k/v with biases, rotary positions (Transformers'
 * `rotate_half` convention), grouped-query causal attention (query head h reads key/value head
 * h / (heads / kvHeads)), SwiGLU MLP; final RMSNorm and lm_head. Checks that the generated graph is the
 * architecture it claims to be, so that what passes against it passes against a real export too.
 * Slow (float64, no blocking): for the tiny model only.
 */
import type { DecoderWeights, Linear } from './decoder-graph.js';

function linear(x: Float64Array, l: Linear): Float64Array {
  const y = new Float64Array(l.out);
  for (let o = 0; o < l.out; o += 1) y[o] = l.b ? l.b[o]! : 0;
  for (let i = 0; i < l.in; i += 1) {
    const xi = x[i]!;
    for (let o = 0; o < l.out; o += 1) y[o]! += xi * l.w[i * l.out + o]!;
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let sum = 0;
  for (const v of x) sum += v * v;
  const scale = 1 / Math.sqrt(sum / x.length + eps);
  return x.map((v, i) => v * scale * weight[i]!);
}

/** Rotates each head of `x` (heads * headDim values) for position `p`, in place. */
function rope(x: Float64Array, heads: number, headDim: number, p: number, theta: number): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h += 1) {
    const base = h * headDim;
    for (let i = 0; i < half; i += 1) {
      const angle = p * theta ** ((-2 * i) / headDim);
      const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
      const [a, b] = [x[base + i]!, x[base + half + i]!];
      x[base + i] = a * cos - b * sin;
      x[base + half + i] = b * cos + a * sin;
    }
  }
}

function attend(q: Float64Array, keys: Float64Array[], values: Float64Array[], w: DecoderWeights): Float64Array {
  const { heads, kvHeads, headDim } = w.dims;
  const out = new Float64Array(heads * headDim);
  for (let h = 0; h < heads; h += 1) {
    const kv = Math.floor(h / (heads / kvHeads)) * headDim;
    const scores = keys.map((k) => {
      let dot = 0;
      for (let i = 0; i < headDim; i += 1) dot += q[h * headDim + i]! * k[kv + i]!;
      return dot / Math.sqrt(headDim);
    });
    const max = Math.max(...scores);
    const exps = scores.map((s) => Math.exp(s - max));
    const total = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, j) => {
      for (let i = 0; i < headDim; i += 1) out[h * headDim + i]! += (e / total) * values[j]![kv + i]!;
    });
  }
  return out;
}

/** The logits at every position of one unpadded sequence (positions 0..n-1), `[n][vocab]`. */
export function decoderLogits(w: DecoderWeights, ids: readonly number[]): Float64Array[] {
  const { hidden, heads, kvHeads, headDim, rmsNormEps: eps, ropeTheta } = w.dims;
  let xs = ids.map((id) => Float64Array.from(w.embedTokens.subarray(id * hidden, (id + 1) * hidden)));
  for (const layer of w.layers) {
    const keys: Float64Array[] = [];
    const values: Float64Array[] = [];
    xs = xs.map((x, p) => {
      const n = rmsNorm(x, layer.inputNorm, eps);
      const [q, k] = [linear(n, layer.q), linear(n, layer.k)];
      rope(q, heads, headDim, p, ropeTheta);
      rope(k, kvHeads, headDim, p, ropeTheta);
      keys.push(k);
      values.push(linear(n, layer.v));
      // Causal: position p sees the keys of positions 0..p, which is exactly what has been pushed so far.
      const attended = linear(attend(q, keys, values, w), layer.o);
      const h = x.map((v, i) => v + attended[i]!);
      const m = rmsNorm(h, layer.postAttentionNorm, eps);
      const gate = linear(m, layer.gate);
      const up = linear(m, layer.up);
      const down = linear(
        gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!),
        layer.down,
      );
      return h.map((v, i) => v + down[i]!);
    });
  }
  return xs.map((x) => linear(rmsNorm(x, w.finalNorm, eps), w.lmHead));
}

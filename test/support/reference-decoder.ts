/**
 * The plainest way to run a decoder export: one sequence, no padding, ONNX Runtime directly. The
 * prompt goes through in one pass with an empty cache, then one token per step, feeding each step's
 * `present.*` back as `past_key_values.*`. Greedy (first index of the largest logit), stopping at an
 * end-of-sequence token (kept) or after `maxNewTokens`. Engines are checked against its ids and logits.
 */
import * as ort from 'onnxruntime-node';

export interface ReferenceCacheShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export interface ReferenceGeneration {
  /** The generated ids only, the end-of-sequence token included when one ended it. */
  tokens: number[];
  /** The last position's logits before each generated token: `logits[i]` chose `tokens[i]`. */
  logits: Float32Array[];
}

/** log(softmax(row)), in float64: what OpenAI-style logprobs report for a logits row. */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const norm = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - norm);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}

function int64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
}

export class ReferenceDecoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly shape: ReferenceCacheShape,
  ) {}

  static async load(modelPath: string, shape: ReferenceCacheShape): Promise<ReferenceDecoder> {
    return new ReferenceDecoder(await ort.InferenceSession.create(modelPath), shape);
  }

  /** Logits at every position of `ids` run in one pass from an empty cache, `[ids.length][vocab]`. */
  async forward(ids: readonly number[]): Promise<Float32Array[]> {
    const out = await this.session.run(this.feeds([...ids], 0, this.emptyCache()));
    const vocab = out.logits!.dims[2]!;
    const all = out.logits!.data as Float32Array;
    return ids.map((_, p) => all.slice(p * vocab, (p + 1) * vocab));
  }

  async generate(prompt: readonly number[], maxNewTokens: number, eosTokenIds: readonly number[] = []): Promise<ReferenceGeneration> {
    if (prompt.length === 0) throw new RangeError('the prompt needs at least one token');
    const { layers, kvHeads, headDim } = this.shape;
    let past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < layers; i += 1) {
      for (const kind of ['key', 'value'])
        past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    const result: ReferenceGeneration = { tokens: [], logits: [] };
    let input = [...prompt];
    let done = 0;
    while (result.tokens.length < maxNewTokens) {
      const out = await this.session.run(this.feeds(input, done, past));
      const vocab = out.logits!.dims[2]!;
      const all = out.logits!.data as Float32Array;
      const last = all.slice((input.length - 1) * vocab, input.length * vocab);
      const next = argmax(last);
      result.logits.push(last);
      result.tokens.push(next);
      if (eosTokenIds.includes(next)) break;
      past = {};
      for (const [name, value] of Object.entries(out))
        if (name.startsWith('present.')) past[name.replace('present.', 'past_key_values.')] = value;
      done += input.length;
      input = [next];
    }
    return result;
  }

  private emptyCache(): Record<string, ort.Tensor> {
    const { layers, kvHeads, headDim } = this.shape;
    const cache: Record<string, ort.Tensor> = {};
    for (let i = 0; i < layers; i += 1) {
      for (const kind of ['key', 'value'])
        cache[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    return cache;
  }

  /** `input` at positions past..past+n-1, every earlier position visible. */
  private feeds(input: number[], past: number, cache: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
    const total = past + input.length;
    return {
      input_ids: int64(input, [1, input.length]),
      attention_mask: int64(new Array<number>(total).fill(1), [1, total]),
      position_ids: int64(
        input.map((_, i) => past + i),
        [1, input.length],
      ),
      ...cache,
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

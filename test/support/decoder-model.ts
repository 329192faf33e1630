/**
 * A small Qwen2-style causal LM written by project code in the folder layout of an `onnx-community/*`
 * repository, for machines that cannot reach the Hub: `config.json`, `generation_config.json`,
 * `tokenizer.json`, `tokenizer_config.json` (with the ChatML chat template), `special_tokens_map.json`
 * and `onnx/model.onnx` (fp32, the Optimum `text-generation-with-past` signature). Weights are seeded
 * and scaled so that greedy decoding is decided by clear margins, not by near-ties.
 *   tiny:  2 layers, hidden 64, 4 heads / 2 key-value heads, vocabulary 512, context 256 (tests)
 *   bench: 6 layers, hidden 512, 8 heads / 4 key-value heads, vocabulary 32000, context 2048
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeModel } from '../../src/onnx/onnx-builder.js';
import { type BpeModel, SPECIAL_TOKENS, specialTokensMap, tokenizerConfig, tokenizerJson, trainBpe } from './bpe-tokenizer.js';
import { type DecoderDims, type DecoderWeights, type Linear, decoderGraph } from './decoder-graph.js';
import { random } from './models.js';

export type DecoderSize = 'tiny' | 'bench';

export const DECODER_DIMS: Readonly<Record<DecoderSize, DecoderDims>> = {
  tiny: {
    vocab: 512,
    hidden: 64,
    intermediate: 128,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 16,
    maxPositions: 256,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
  },
  bench: {
    vocab: 32000,
    hidden: 512,
    intermediate: 1536,
    layers: 6,
    heads: 8,
    kvHeads: 4,
    headDim: 64,
    maxPositions: 2048,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
  },
};

/** Token ids of the special tokens, which come after the byte tokens and merges. */
export interface DecoderTokens {
  endOfText: number;
  imStart: number;
  imEnd: number;
}

export interface DecoderModel {
  dir: string;
  dims: DecoderDims;
  tokens: DecoderTokens;
  /** `generation_config.json`'s stop tokens: `<|im_end|>` then `<|endoftext|>`. */
  eosTokenIds: number[];
}

export function specialTokenIds(vocab: number): DecoderTokens {
  const first = vocab - SPECIAL_TOKENS.length;
  return { endOfText: first, imStart: first + 1, imEnd: first + 2 };
}

/**
 * Uniform weights with standard deviation `gain / sqrt(fan_in)`: q and k a little hot so attention
 * is far from uniform, lm_head hot so that logits spread over several units (see the module doc).
 */
export function decoderWeights(dims: DecoderDims, seed: number): DecoderWeights {
  const rand = random(seed);
  const uniform = (n: number, scale: number, center = 0) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 1) out[i] = center + (rand() * 2 - 1) * scale;
    return out;
  };
  const linear = (inSize: number, out: number, gain: number, bias = false): Linear => ({
    w: uniform(inSize * out, gain * Math.sqrt(3 / inSize)),
    ...(bias && { b: uniform(out, 0.2) }),
    in: inSize,
    out,
  });
  const norm = () => uniform(dims.hidden, 0.1, 1);
  const { hidden, heads, kvHeads, headDim, intermediate } = dims;
  return {
    dims,
    embedTokens: uniform(dims.vocab * hidden, 1),
    layers: Array.from({ length: dims.layers }, () => ({
      inputNorm: norm(),
      q: linear(hidden, heads * headDim, 1.5, true),
      k: linear(hidden, kvHeads * headDim, 1.5, true),
      v: linear(hidden, kvHeads * headDim, 1, true),
      o: linear(heads * headDim, hidden, 1),
      postAttentionNorm: norm(),
      gate: linear(hidden, intermediate, 1),
      up: linear(hidden, intermediate, 1),
      down: linear(intermediate, hidden, 1),
    })),
    finalNorm: norm(),
    lmHead: linear(hidden, dims.vocab, 4),
  };
}

function configJson(d: DecoderDims, tokens: DecoderTokens): object {
  return {
    architectures: ['Qwen2ForCausalLM'],
    attention_dropout: 0,
    bos_token_id: tokens.endOfText,
    eos_token_id: tokens.imEnd,
    head_dim: d.headDim,
    hidden_act: 'silu',
    hidden_size: d.hidden,
    initializer_range: 0.02,
    intermediate_size: d.intermediate,
    max_position_embeddings: d.maxPositions,
    max_window_layers: d.layers,
    model_type: 'qwen2',
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    num_key_value_heads: d.kvHeads,
    rms_norm_eps: d.rmsNormEps,
    rope_theta: d.ropeTheta,
    sliding_window: d.maxPositions,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: d.vocab,
    'transformers.js_config': { dtype: 'fp32' },
  };
}

/** Greedy by default (unlike Qwen2's sampling defaults), so that a request without sampling settings is reproducible. */
function generationConfigJson(tokens: DecoderTokens): object {
  return {
    bos_token_id: tokens.endOfText,
    do_sample: false,
    eos_token_id: [tokens.imEnd, tokens.endOfText],
    pad_token_id: tokens.endOfText,
    transformers_version: '4.46.0',
  };
}

/** Writes the model folder into `dir` (created if missing). Same size and seed, same bytes. */
export async function writeDecoderModel(dir: string, size: DecoderSize = 'tiny', seed = 1): Promise<DecoderModel> {
  const dims = DECODER_DIMS[size];
  const bpe: BpeModel = trainBpe(dims.vocab, seed);
  if (bpe.vocabulary.length !== dims.vocab) throw new Error(`tokenizer has ${bpe.vocabulary.length} tokens, the model ${dims.vocab}`);
  const tokens = specialTokenIds(dims.vocab);
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify(configJson(dims, tokens), null, 2),
    'generation_config.json': JSON.stringify(generationConfigJson(tokens), null, 2),
    'tokenizer.json': JSON.stringify(tokenizerJson(bpe)),
    'tokenizer_config.json': JSON.stringify(tokenizerConfig(bpe, dims.maxPositions), null, 2),
    'special_tokens_map.json': JSON.stringify(specialTokensMap(), null, 2),
  };
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'onnx/model.onnx'), encodeModel(decoderGraph(decoderWeights(dims, seed), `lathe-decoder-${size}`)));
  return { dir, dims, tokens, eosTokenIds: [tokens.imEnd, tokens.endOfText] };
}

/** Bumped whenever the generator's output changes, so cached folders are rebuilt. */
const GENERATOR_VERSION = 2;

/**
 * The model in `<cacheRoot>/decoder-<size>-seed<seed>-v<version>`, written once: the bench size
 * takes seconds to build and ~200 MB on disk, so it is generated on demand and never committed.
 */
export async function cachedDecoderModel(cacheRoot: string, size: DecoderSize, seed = 1): Promise<DecoderModel> {
  const dir = join(cacheRoot, `decoder-${size}-seed${seed}-v${GENERATOR_VERSION}`);
  const stamp = join(dir, '.complete');
  const dims = DECODER_DIMS[size];
  const tokens = specialTokenIds(dims.vocab);
  if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === String(GENERATOR_VERSION)) {
    return { dir, dims, tokens, eosTokenIds: [tokens.imEnd, tokens.endOfText] };
  }
  // Built beside and renamed into place, so a crash never leaves a half-written folder that looks complete.
  const building = `${dir}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await writeDecoderModel(building, size, seed);
  await writeFile(join(building, '.complete'), String(GENERATOR_VERSION));
  await rm(dir, { recursive: true, force: true });
  await rename(building, dir);
  return { dir, dims, tokens, eosTokenIds: [tokens.imEnd, tokens.endOfText] };
}

/**
 * The model's manifest as `lathe models pull` writes it for a text-generation export: the
 * Hugging Face folder as its source and the graph's inputs and outputs; `parameters` may set the
 * decode loop's limits (maxSequences, kvCacheBytes, queue, prefillChunkTokens).
 */
export function decoderManifest(model: DecoderModel, parameters: Record<string, unknown> = {}): object {
  const { layers, kvHeads, headDim } = model.dims;
  const cache = (prefix: string) =>
    Array.from({ length: layers }, (_, i) =>
      ['key', 'value'].map((part) => ({ name: `${prefix}.${i}.${part}`, datatype: 'FP32', shape: [-1, kvHeads, -1, headDim] })),
    ).flat();
  return {
    task: 'text-generation',
    description: 'a generated Qwen2-style decoder (test fixture)',
    source: { huggingface: model.dir, file: 'onnx/model.onnx' },
    inputs: [
      ...['input_ids', 'attention_mask', 'position_ids'].map((name) => ({ name, datatype: 'INT64', shape: [-1, -1] })),
      ...cache('past_key_values'),
    ],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, -1, model.dims.vocab] }, ...cache('present')],
    parameters,
  };
}

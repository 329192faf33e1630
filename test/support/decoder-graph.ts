/**
 * The ONNX graph of a Qwen2-style decoder-only causal LM (RMSNorm, rotary positions, grouped-query
 * attention with q/k/v biases, SwiGLU MLP), with the inputs and outputs of an Optimum
 * `text-generation-with-past` export, which is what `onnx-community/*` repositories ship and
 * Transformers.js runs: `input_ids`, `attention_mask`, `position_ids`, `past_key_values.{i}.key|value`
 * in; `logits`, `present.{i}.key|value` out. Built from standard opset-17 operators only, so any
 * ONNX Runtime runs it. The key/value cache holds keys after rotation, as Transformers does.
 */
import { type ConstantTensor, type ModelSpec, type NodeSpec, type ValueSpec, attr, tensor } from '../../src/onnx/onnx-builder.js';

export interface DecoderDims {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  maxPositions: number;
  ropeTheta: number;
  rmsNormEps: number;
}

/** A linear layer stored as ONNX exports store it: `[in, out]` for `MatMul`. */
export interface Linear {
  w: Float32Array;
  b?: Float32Array;
  in: number;
  out: number;
}

export interface DecoderLayerWeights {
  inputNorm: Float32Array;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  postAttentionNorm: Float32Array;
  gate: Linear;
  up: Linear;
  down: Linear;
}

export interface DecoderWeights {
  dims: DecoderDims;
  /** `[vocab, hidden]`. */
  embedTokens: Float32Array;
  layers: DecoderLayerWeights[];
  finalNorm: Float32Array;
  lmHead: Linear;
}

/** Symbolic dimension names of Optimum's decoder exports. */
export const DIM = {
  batch: 'batch_size',
  sequence: 'sequence_length',
  past: 'past_sequence_length',
  total: 'past_sequence_length + sequence_length',
} as const;

/** The most negative float32: masked scores, so a row with nothing to attend stays finite. */
const MASKED = -3.4028234663852886e38;

class Graph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: ConstantTensor[] = [];

  node(op: string, inputs: string[], output: string, attributes?: NodeSpec['attributes']): string {
    this.nodes.push({ op, inputs, outputs: [output], name: output, ...(attributes && { attributes }) });
    return output;
  }

  constant(name: string, data: Float32Array | BigInt64Array, dims: readonly number[]): string {
    if (!this.initializers.some((t) => t.name === name)) this.initializers.push(tensor(name, data, dims));
    return name;
  }

  i64(name: string, values: number[], scalar = false): string {
    return this.constant(name, BigInt64Array.from(values, BigInt), scalar ? [] : [values.length]);
  }

  f32(name: string, value: number): string {
    return this.constant(name, Float32Array.of(value), []);
  }

  linear(x: string, layer: Linear, name: string): string {
    const y = this.node('MatMul', [x, this.constant(`${name}.weight`, layer.w, [layer.in, layer.out])], `${name}/MatMul`);
    return layer.b ? this.node('Add', [y, this.constant(`${name}.bias`, layer.b, [layer.out])], `${name}/Add`) : y;
  }

  /** x / sqrt(mean(x^2) + eps) * weight, over the last axis. */
  rmsNorm(x: string, weight: Float32Array, eps: number, name: string): string {
    const square = this.node('Mul', [x, x], `${name}/Square`);
    const mean = this.node('ReduceMean', [square], `${name}/ReduceMean`, { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const root = this.node('Sqrt', [this.node('Add', [mean, this.f32(`${name}.eps`, eps)], `${name}/AddEps`)], `${name}/Sqrt`);
    const normed = this.node('Mul', [x, this.node('Reciprocal', [root], `${name}/Reciprocal`)], `${name}/Normalize`);
    return this.node('Mul', [normed, this.constant(`${name}.weight`, weight, [weight.length])], `${name}/Scale`);
  }
}

/** cos and sin of position * inv_freq, each `[batch, 1, seq, headDim]` (the two halves repeat). */
function rotary(g: Graph, d: DecoderDims): { cos: string; sin: string } {
  const half = d.headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / d.ropeTheta ** ((2 * i) / d.headDim));
  const positions = g.node('Cast', ['position_ids'], 'rotary/positions', { to: attr.int(1) });
  const column = g.node('Unsqueeze', [positions, g.i64('axes.last', [-1])], 'rotary/positions_column');
  const freqs = g.node('Mul', [column, g.constant('rotary.inv_freq', invFreq, [half])], 'rotary/freqs');
  const angles = g.node('Concat', [freqs, freqs], 'rotary/angles', { axis: attr.int(-1) });
  const heads = g.i64('axes.heads', [1]);
  return {
    cos: g.node('Unsqueeze', [g.node('Cos', [angles], 'rotary/Cos'), heads], 'rotary/cos'),
    sin: g.node('Unsqueeze', [g.node('Sin', [angles], 'rotary/Sin'), heads], 'rotary/sin'),
  };
}

/** x * cos + rotate_half(x) * sin, where rotate_half([a, b]) = [-b, a] over the last axis. */
function rotate(g: Graph, x: string, r: { cos: string; sin: string }, half: number, name: string): string {
  const halves = [`${name}/first_half`, `${name}/second_half`];
  g.nodes.push({
    op: 'Split',
    inputs: [x, g.i64('rotary.halves', [half, half])],
    outputs: halves,
    name: `${name}/Split`,
    attributes: { axis: attr.int(-1) },
  });
  const rotated = g.node('Concat', [g.node('Neg', [halves[1]!], `${name}/Neg`), halves[0]!], `${name}/rotate_half`, { axis: attr.int(-1) });
  return g.node('Add', [g.node('Mul', [x, r.cos], `${name}/MulCos`), g.node('Mul', [rotated, r.sin], `${name}/MulSin`)], `${name}/rotated`);
}

/**
 * `[batch, 1, 1, seq, total]` booleans: key j is visible to query i when attention_mask marks it and
 * j <= past + i. Left padding works because the padded keys are simply never visible.
 */
function visibility(g: Graph): string {
  const total = g.node('Gather', [g.node('Shape', ['attention_mask'], 'mask/shape'), g.i64('index.one', [1], true)], 'mask/total');
  const sequence = g.node('Gather', [g.node('Shape', ['input_ids'], 'mask/ids_shape'), g.i64('index.one', [1], true)], 'mask/sequence');
  const past = g.node('Sub', [total, sequence], 'mask/past');
  const one = g.i64('scalar.one', [1], true);
  const keys = g.node('Range', [g.i64('scalar.zero', [0], true), total, one], 'mask/key_positions');
  const queries = g.node('Range', [past, total, one], 'mask/query_positions');
  const queryColumn = g.node('Unsqueeze', [queries, g.i64('axes.last', [-1])], 'mask/query_column');
  const causal = g.node('LessOrEqual', [keys, queryColumn], 'mask/causal'); // [seq, total]
  const padding = g.node('Cast', ['attention_mask'], 'mask/padding', { to: attr.int(9) });
  const padding5 = g.node('Unsqueeze', [padding, g.i64('axes.mask', [1, 2, 3])], 'mask/padding_5d'); // [batch, 1, 1, 1, total]
  return g.node('And', [causal, padding5], 'mask/visible');
}

function attention(g: Graph, w: DecoderLayerWeights, d: DecoderDims, x: string, i: number, ctx: Context): string {
  const n = `/model/layers.${i}/self_attn`;
  const groups = d.heads / d.kvHeads;
  const heads = (y: string, count: number, name: string) =>
    g.node(
      'Transpose',
      [g.node('Reshape', [y, g.i64(`shape.heads${count}`, [0, 0, count, d.headDim])], `${name}/Reshape`)],
      `${name}/Transpose`,
      {
        perm: attr.ints([0, 2, 1, 3]),
      },
    );
  const q = rotate(g, heads(g.linear(x, w.q, `${n}/q_proj`), d.heads, `${n}/q`), ctx.rotary, d.headDim / 2, `${n}/q_rot`);
  const k = rotate(g, heads(g.linear(x, w.k, `${n}/k_proj`), d.kvHeads, `${n}/k`), ctx.rotary, d.headDim / 2, `${n}/k_rot`);
  const v = heads(g.linear(x, w.v, `${n}/v_proj`), d.kvHeads, `${n}/v`);
  const keys = g.node('Concat', [`past_key_values.${i}.key`, k], `present.${i}.key`, { axis: attr.int(2) });
  const values = g.node('Concat', [`past_key_values.${i}.value`, v], `present.${i}.value`, { axis: attr.int(2) });
  // Grouped-query attention by broadcasting: query head h reads key/value head floor(h / groups).
  const q5 = g.node('Reshape', [q, g.i64('shape.grouped', [0, d.kvHeads, groups, -1, d.headDim])], `${n}/q_grouped`);
  // Transposing the last two axes right before MatMul lets ONNX Runtime fuse it into the product (no copy of the cache).
  const k5 = g.node('Unsqueeze', [keys, g.i64('axes.group', [2])], `${n}/k_grouped`);
  const kT = g.node('Transpose', [k5], `${n}/k_transposed`, { perm: attr.ints([0, 1, 2, 4, 3]) });
  const scores = g.node('Mul', [g.node('MatMul', [q5, kT], `${n}/qk`), g.f32('attention.scale', 1 / Math.sqrt(d.headDim))], `${n}/scores`);
  const masked = g.node('Where', [ctx.visible, scores, g.f32('attention.masked', MASKED)], `${n}/masked`);
  const probs = g.node('Softmax', [masked], `${n}/probs`, { axis: attr.int(-1) });
  const v5 = g.node('Unsqueeze', [values, g.i64('axes.group', [2])], `${n}/v_grouped`);
  const context = g.node('MatMul', [probs, v5], `${n}/context_grouped`); // [batch, kv, groups, seq, headDim]
  const merged = g.node('Reshape', [context, g.i64('shape.all_heads', [0, d.heads, -1, d.headDim])], `${n}/context_heads`);
  const tokens = g.node('Transpose', [merged], `${n}/context_tokens`, { perm: attr.ints([0, 2, 1, 3]) });
  const flat = g.node('Reshape', [tokens, g.i64('shape.hidden', [0, 0, d.heads * d.headDim])], `${n}/context`);
  return g.linear(flat, w.o, `${n}/o_proj`);
}

function mlp(g: Graph, w: DecoderLayerWeights, x: string, i: number): string {
  const n = `/model/layers.${i}/mlp`;
  const gate = g.linear(x, w.gate, `${n}/gate_proj`);
  const silu = g.node('Mul', [gate, g.node('Sigmoid', [gate], `${n}/Sigmoid`)], `${n}/silu`);
  const product = g.node('Mul', [silu, g.linear(x, w.up, `${n}/up_proj`)], `${n}/gated`);
  return g.linear(product, w.down, `${n}/down_proj`);
}

interface Context {
  rotary: { cos: string; sin: string };
  visible: string;
}

export function decoderGraph(w: DecoderWeights, graphName: string): ModelSpec {
  const d = w.dims;
  const g = new Graph();
  let x = g.node(
    'Gather',
    [g.constant('model.embed_tokens.weight', w.embedTokens, [d.vocab, d.hidden]), 'input_ids'],
    '/model/embed_tokens',
  );
  const ctx: Context = { rotary: rotary(g, d), visible: visibility(g) };
  w.layers.forEach((layer, i) => {
    const n = `/model/layers.${i}`;
    const attended = attention(g, layer, d, g.rmsNorm(x, layer.inputNorm, d.rmsNormEps, `${n}/input_layernorm`), i, ctx);
    x = g.node('Add', [x, attended], `${n}/attention_residual`);
    const fed = mlp(g, layer, g.rmsNorm(x, layer.postAttentionNorm, d.rmsNormEps, `${n}/post_attention_layernorm`), i);
    x = g.node('Add', [x, fed], `${n}/mlp_residual`);
  });
  const normed = g.rmsNorm(x, w.finalNorm, d.rmsNormEps, '/model/norm');
  g.node('Identity', [g.linear(normed, w.lmHead, '/lm_head')], 'logits');
  return {
    graphName,
    inputs: decoderInputs(d),
    outputs: decoderOutputs(d),
    initializers: g.initializers,
    nodes: g.nodes,
    opset: 17,
    producerName: 'lathe decoder-model',
  };
}

function cacheSpecs(d: DecoderDims, prefix: string, length: string): ValueSpec[] {
  return Array.from({ length: d.layers }, (_, i) =>
    ['key', 'value'].map((kind) => ({
      name: `${prefix}.${i}.${kind}`,
      type: 'float32' as const,
      dims: [DIM.batch, d.kvHeads, length, d.headDim],
    })),
  ).flat();
}

export function decoderInputs(d: DecoderDims): ValueSpec[] {
  return [
    { name: 'input_ids', type: 'int64', dims: [DIM.batch, DIM.sequence] },
    { name: 'attention_mask', type: 'int64', dims: [DIM.batch, DIM.total] },
    { name: 'position_ids', type: 'int64', dims: [DIM.batch, DIM.sequence] },
    ...cacheSpecs(d, 'past_key_values', DIM.past),
  ];
}

export function decoderOutputs(d: DecoderDims): ValueSpec[] {
  return [{ name: 'logits', type: 'float32', dims: [DIM.batch, DIM.sequence, d.vocab] }, ...cacheSpecs(d, 'present', DIM.total)];
}

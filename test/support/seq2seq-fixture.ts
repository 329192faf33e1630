/**
 * Encoder-decoder text models in the Optimum / Xenova layout (onnx/encoder_model.onnx,
 * onnx/decoder_model_merged.onnx with use_cache_branch, past_key_values.{i}.decoder/encoder.key/value
 * in, logits and present.* out), whose output is known by construction: a "translator" that puts, at
 * decoder position p, the target token of source token p.
 *
 * - The encoder's hidden state at source position j is [one-hot(token_j), j^2, j, 1] (times the
 *   attention mask).
 * - The decoder reads its position p from the self-attention cache's length (as Optimum's merged
 *   decoders do: they take no decoder attention mask) and queries the cross-attention keys with
 *   [0.., -C, 2Cp, -Cp^2]: the score of source position j is -C (j - p)^2, so with C = 20 the
 *   softmax puts all but e^-20 of its weight on j = p (padding is masked out by
 *   encoder_attention_mask). The context is then one-hot(token_p), and `logits = context x TABLE`
 *   where row t of TABLE is 0 at map(t) and LOW elsewhere: the next token is map(source token p).
 *   The source's final </s> maps to </s>, so the output has as many tokens as the source.
 * - The first call (use_cache_branch false, empty past) computes the cross-attention cache from
 *   encoder_hidden_states; later calls take it from past_key_values.*.encoder.* (the graph keeps
 *   the first S columns of [past, fresh]: the past when there is one).
 * - The self-attention cache holds a seeded embedding of every decoder input token; it reaches the
 *   logits only as a uniform per-row shift (1e-3 x its mean), which changes neither softmax nor
 *   argmax. The "bench" size adds real work (three 2048-wide layers over the decoder's input token,
 *   about 15M multiply-adds per token as a Marian decoder has, and an MLP over the encoder's
 *   states) whose contribution is below 0.05 against a margin of 100.
 *
 * Every logits row has one token at 0 and the rest at LOW (-100) or less, so greedy decoding and
 * beam search (any width, any length penalty) give the same tokens.
 *
 * Marian style: </s> = 0, <unk> = 1, <pad> last = decoder_start_token_id, English words map to
 * German ones. T5 style: <pad> = 0 = decoder start, </s> = 1, <unk> = 2; the words of its task
 * prefixes ("summarize:", "translate English to German:") map to <pad>, which decoding skips.
 * M2M100 style: <s> <pad> </s> <unk> first, language tokens __en__ __de__ __fr__ last (special); the
 * source starts with its language token, and decoding is forced to begin with the target's
 * (forced_bos_token_id), which then takes decoder position 0 (the source language's place).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attr, encodeModel, type ModelSpec, type NodeSpec, tensor } from '../../src/onnx/onnx-builder.js';
import { random, randomFloats } from './models.js';

export type Seq2SeqStyle = 'marian' | 't5' | 'm2m100';
export type Seq2SeqSize = 'tiny' | 'bench';

/** English -> German, one word each. */
export const DICTIONARY: ReadonlyArray<readonly [string, string]> = [
  ['hello', 'hallo'],
  ['world', 'welt'],
  ['the', 'die'],
  ['cat', 'katze'],
  ['dog', 'hund'],
  ['house', 'haus'],
  ['is', 'ist'],
  ['small', 'klein'],
  ['big', 'gross'],
  ['and', 'und'],
  ['red', 'rot'],
  ['green', 'gruen'],
  ['tree', 'baum'],
  ['water', 'wasser'],
  ['bread', 'brot'],
  ['good', 'gut'],
  ['morning', 'morgen'],
  ['night', 'nacht'],
  ['friend', 'freund'],
  ['book', 'buch'],
  ['city', 'stadt'],
  ['river', 'fluss'],
  ['sun', 'sonne'],
  ['moon', 'mond'],
];
const PREFIX_WORDS = ['summarize', 'translate', 'English', 'to', 'German'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const PUNCTUATION = [',', '.', ':', '!', '?'];
const LOW = -100;
export const M2M_LANGUAGES = ['en', 'de', 'fr'];
/** Position sharpness: neighbours of the attended source position get e^-C of the weight. */
const SHARPNESS = 20;
const SELF_DIM = 8;
const BENCH_FILLERS = 1000;
const BENCH_MLP = 512;
const BENCH_DECODER_WIDTH = 2048;
const BENCH_DECODER_LAYERS = 3;

export const T5_PREFIXES = { summarization: 'summarize: ', translation_en_to_de: 'translate English to German: ' } as const;

export interface Seq2SeqFixture {
  dir: string;
  style: Seq2SeqStyle;
  vocab: Readonly<Record<string, number>>;
  /** The expected output of a text of dictionary words (and, for T5, prefix words): each word mapped. */
  expected(text: string): string;
  /** Words the fixture's vocabulary has as single pieces (bench fillers included). */
  words: readonly string[];
}

interface Pieces {
  list: Array<{ piece: string; score: number }>;
  specials: { eos: string; unk: string; pad: string };
}

function pieces(style: Seq2SeqStyle, size: Seq2SeqSize): Pieces {
  const words = [...DICTIONARY.flat(), ...(style === 't5' ? PREFIX_WORDS : []), ...fillers(size)];
  const body = [
    { piece: '▁', score: -3 },
    ...LETTERS.map((l) => ({ piece: l, score: -5 })),
    ...PUNCTUATION.map((p) => ({ piece: p, score: -4 })),
    ...words.map((w) => ({ piece: `▁${w}`, score: -1 })),
  ];
  if (style === 'm2m100') {
    return {
      list: [
        ...['<s>', '<pad>', '</s>', '<unk>'].map((piece) => ({ piece, score: 0 })),
        ...body,
        ...M2M_LANGUAGES.map((l) => ({ piece: `__${l}__`, score: 0 })),
      ],
      specials: { eos: '</s>', unk: '<unk>', pad: '<pad>' },
    };
  }
  if (style === 'marian') {
    return {
      list: [{ piece: '</s>', score: 0 }, { piece: '<unk>', score: 0 }, ...body, { piece: '<pad>', score: 0 }],
      specials: { eos: '</s>', unk: '<unk>', pad: '<pad>' },
    };
  }
  return {
    list: [{ piece: '<pad>', score: 0 }, { piece: '</s>', score: 0 }, { piece: '<unk>', score: 0 }, ...body],
    specials: { eos: '</s>', unk: '<unk>', pad: '<pad>' },
  };
}

function fillers(size: Seq2SeqSize): string[] {
  return size === 'bench' ? Array.from({ length: BENCH_FILLERS }, (_, i) => `w${String(i).padStart(4, '0')}`) : [];
}

/** map(token): the target token the translator puts for each source token. */
function targetOf(style: Seq2SeqStyle, vocab: Record<string, number>): Int32Array {
  const ids = Object.entries(vocab);
  const map = new Int32Array(ids.length);
  const german = new Map(DICTIONARY.map(([en, de]) => [`▁${en}`, `▁${de}`]));
  for (const [piece, id] of ids) {
    let target = piece;
    if (german.has(piece)) target = german.get(piece)!;
    else if (style === 't5' && (PREFIX_WORDS.some((w) => piece === `▁${w}`) || piece === ':')) target = '<pad>';
    else if (piece === '<pad>') target = '</s>';
    map[id] = vocab[target]!;
  }
  return map;
}

const hiddenSize = (vocab: number) => vocab + 3;

/**
 * Position features (j^2, j, 1) of float positions, placed in the last 3 hidden columns in that
 * order (keys) or reversed (queries: (1, p, p^2), so that times (-C, 2C, -C) they give -C (j - p)^2 against a key).
 */
function positionNodes(prefix: string, positions: string, place: 'place_tail' | 'place_reversed'): { nodes: NodeSpec[]; out: string } {
  return {
    nodes: [
      { op: 'Unsqueeze', inputs: [positions, 'axis_1'], outputs: [`${prefix}_col`] },
      { op: 'Mul', inputs: [`${prefix}_col`, `${prefix}_col`], outputs: [`${prefix}_sq`] },
      { op: 'Mul', inputs: [`${prefix}_col`, 'zero_f'], outputs: [`${prefix}_zero`] },
      { op: 'Add', inputs: [`${prefix}_zero`, 'one_f'], outputs: [`${prefix}_one`] },
      {
        op: 'Concat',
        inputs: [`${prefix}_sq`, `${prefix}_col`, `${prefix}_one`],
        outputs: [`${prefix}_feat`],
        attributes: { axis: attr.int(1) },
      },
      { op: 'MatMul', inputs: [`${prefix}_feat`, place], outputs: [`${prefix}_out`] },
    ],
    out: `${prefix}_out`,
  };
}

function sharedInitializers(vocab: number) {
  const hidden = hiddenSize(vocab);
  const placeTail = new Float32Array(3 * hidden);
  const placeReversed = new Float32Array(3 * hidden);
  for (let k = 0; k < 3; k++) {
    placeTail[k * hidden + vocab + k] = 1;
    placeReversed[k * hidden + vocab + 2 - k] = 1;
  }
  return [
    tensor('axis_1', BigInt64Array.of(1n), [1]),
    tensor('axis_2', BigInt64Array.of(2n), [1]),
    tensor('zero_f', Float32Array.of(0), []),
    tensor('one_f', Float32Array.of(1), []),
    tensor('zero_i', BigInt64Array.of(0n), []),
    tensor('one_i', BigInt64Array.of(1n), []),
    tensor('place_tail', placeTail, [3, hidden]),
    tensor('place_reversed', placeReversed, [3, hidden]),
  ];
}

function encoderGraph(vocab: number, size: Seq2SeqSize, seed: number): ModelSpec {
  const hidden = hiddenSize(vocab);
  const oneHot = new Float32Array(vocab * hidden);
  for (let v = 0; v < vocab; v++) oneHot[v * hidden + v] = 1;
  const pos = positionNodes('enc_pos', 'positions_f', 'place_tail');
  const nodes: NodeSpec[] = [
    { op: 'Gather', inputs: ['one_hot', 'input_ids'], outputs: ['tokens'] },
    { op: 'Shape', inputs: ['input_ids'], outputs: ['ids_shape'] },
    { op: 'Gather', inputs: ['ids_shape', 'one_i'], outputs: ['length'] },
    { op: 'Range', inputs: ['zero_i', 'length', 'one_i'], outputs: ['positions'] },
    { op: 'Cast', inputs: ['positions'], outputs: ['positions_f'], attributes: { to: attr.int(1) } },
    ...pos.nodes,
    { op: 'Add', inputs: ['tokens', pos.out], outputs: ['states'] },
    { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attributes: { to: attr.int(1) } },
    { op: 'Unsqueeze', inputs: ['mask_f', 'axis_2'], outputs: ['mask_3d'] },
  ];
  const initializers = [...sharedInitializers(vocab), tensor('one_hot', oneHot, [vocab, hidden])];
  if (size === 'bench') {
    const rand = random(seed + 100);
    initializers.push(
      tensor('enc_w1', randomFloats(hidden * BENCH_MLP, rand, 0.05), [hidden, BENCH_MLP]),
      tensor('enc_w2', randomFloats(BENCH_MLP * hidden, rand, 1e-5), [BENCH_MLP, hidden]),
    );
    nodes.push(
      { op: 'MatMul', inputs: ['states', 'enc_w1'], outputs: ['enc_h1'] },
      { op: 'Tanh', inputs: ['enc_h1'], outputs: ['enc_a1'] },
      { op: 'MatMul', inputs: ['enc_a1', 'enc_w2'], outputs: ['enc_extra'] },
      { op: 'Add', inputs: ['states', 'enc_extra'], outputs: ['states_out'] },
      { op: 'Mul', inputs: ['states_out', 'mask_3d'], outputs: ['last_hidden_state'] },
    );
  } else {
    nodes.push({ op: 'Mul', inputs: ['states', 'mask_3d'], outputs: ['last_hidden_state'] });
  }
  return {
    graphName: 'translator_encoder',
    inputs: [
      { name: 'input_ids', type: 'int64', dims: ['batch_size', 'encoder_sequence_length'] },
      { name: 'attention_mask', type: 'int64', dims: ['batch_size', 'encoder_sequence_length'] },
    ],
    outputs: [{ name: 'last_hidden_state', type: 'float32', dims: ['batch_size', 'encoder_sequence_length', hidden] }],
    initializers: used(initializers, nodes),
    nodes,
  };
}

/** The initializers some node reads (ONNX Runtime warns about the others). */
function used<T extends { name: string }>(initializers: T[], nodes: NodeSpec[]): T[] {
  return initializers.filter((t) => nodes.some((n) => n.inputs.includes(t.name)));
}

const LAYERS = 2;

function decoderGraph(map: Int32Array, size: Seq2SeqSize, seed: number): ModelSpec {
  const vocab = map.length;
  const hidden = hiddenSize(vocab);
  const rand = random(seed);
  const table = new Float32Array(hidden * vocab).fill(0);
  for (let t = 0; t < vocab; t++) {
    for (let v = 0; v < vocab; v++) table[t * vocab + v] = v === map[t] ? 0 : LOW;
  }
  const query = new Float32Array([-SHARPNESS, 2 * SHARPNESS, -SHARPNESS]);
  const pos = positionNodes('dec_pos', 'positions_f', 'place_reversed');
  const nodes: NodeSpec[] = [
    // Position of each decoder input token: the self-attention cache's length onwards.
    { op: 'Shape', inputs: ['past_key_values.0.decoder.key'], outputs: ['past_shape'] },
    { op: 'Gather', inputs: ['past_shape', 'two_i'], outputs: ['past_length'] },
    { op: 'Shape', inputs: ['input_ids'], outputs: ['ids_shape'] },
    { op: 'Gather', inputs: ['ids_shape', 'one_i'], outputs: ['new_length'] },
    { op: 'Add', inputs: ['past_length', 'new_length'], outputs: ['total_length'] },
    { op: 'Range', inputs: ['past_length', 'total_length', 'one_i'], outputs: ['positions'] },
    { op: 'Cast', inputs: ['positions'], outputs: ['positions_f'], attributes: { to: attr.int(1) } },
    // Its query [0.., -C, 2Cp, -Cp^2]: the position features times (-C, 2C, -C) on (p^2, p, 1).
    ...pos.nodes,
    { op: 'Mul', inputs: [pos.out, 'query_scale'], outputs: ['query'] },
    // Fresh cross-attention cache from encoder_hidden_states (zeroed on the cache branch, then cut away).
    { op: 'Cast', inputs: ['use_cache_branch'], outputs: ['use_cache_f'], attributes: { to: attr.int(1) } },
    { op: 'Sub', inputs: ['one_f', 'use_cache_f'], outputs: ['fresh_gate'] },
    { op: 'Unsqueeze', inputs: ['encoder_hidden_states', 'axis_1'], outputs: ['states_4d'] },
    { op: 'Mul', inputs: ['states_4d', 'fresh_gate'], outputs: ['fresh_cross'] },
    { op: 'Shape', inputs: ['encoder_hidden_states'], outputs: ['states_shape'] },
    { op: 'Slice', inputs: ['states_shape', 'one_1d', 'two_1d'], outputs: ['source_length'] },
    // Mask: 0 on source tokens, -1e9 on padding: [B, 1, 1, S].
    { op: 'Cast', inputs: ['encoder_attention_mask'], outputs: ['source_mask_f'], attributes: { to: attr.int(1) } },
    { op: 'Sub', inputs: ['source_mask_f', 'one_f'], outputs: ['mask_neg'] },
    { op: 'Mul', inputs: ['mask_neg', 'big_f'], outputs: ['mask_bias_2d'] },
    { op: 'Unsqueeze', inputs: ['mask_bias_2d', 'axes_1_2'], outputs: ['mask_bias'] },
    // Self-attention cache: a seeded embedding of each input token, per layer.
    { op: 'Unsqueeze', inputs: ['input_ids', 'axis_1'], outputs: ['ids_4d_base'] },
  ];
  const initializers = [
    ...sharedInitializers(vocab),
    tensor('two_i', BigInt64Array.of(2n), []),
    tensor('one_1d', BigInt64Array.of(1n), [1]),
    tensor('two_1d', BigInt64Array.of(2n), [1]),
    tensor('zero_1d', BigInt64Array.of(0n), [1]),
    tensor('axes_1_2', BigInt64Array.of(1n, 2n), [2]),
    tensor('axes_1_2_3', BigInt64Array.of(1n, 2n, 3n), [3]),
    tensor('big_f', Float32Array.of(1e9), []),
    tensor('shift_scale', Float32Array.of(1e-3), []),
    tensor('half_f', Float32Array.of(0.5), []),
    tensor(
      'query_scale',
      Float32Array.from({ length: hidden }, (_, k) => (k >= vocab ? query[k - vocab]! : 0)),
      [hidden],
    ),
    tensor('table', table, [hidden, vocab]),
  ];
  const outputs: ModelSpec['outputs'][number][] = [
    { name: 'logits', type: 'float32', dims: ['batch_size', 'decoder_sequence_length', vocab] },
  ];
  const inputs: ModelSpec['inputs'][number][] = [
    { name: 'encoder_attention_mask', type: 'int64', dims: ['batch_size', 'encoder_sequence_length'] },
    { name: 'input_ids', type: 'int64', dims: ['batch_size', 'decoder_sequence_length'] },
    { name: 'encoder_hidden_states', type: 'float32', dims: ['batch_size', 'encoder_sequence_length', hidden] },
  ];
  const contexts: string[] = [];
  for (let i = 0; i < LAYERS; i++) {
    for (const part of ['key', 'value'] as const) {
      inputs.push({
        name: `past_key_values.${i}.decoder.${part}`,
        type: 'float32',
        dims: ['batch_size', 1, 'past_decoder_sequence_length', SELF_DIM],
      });
      inputs.push({
        name: `past_key_values.${i}.encoder.${part}`,
        type: 'float32',
        dims: ['batch_size', 1, 'encoder_sequence_length_out', hidden],
      });
      outputs.push({
        name: `present.${i}.decoder.${part}`,
        type: 'float32',
        dims: ['batch_size', 1, 'present_decoder_sequence_length', SELF_DIM],
      });
      outputs.push({
        name: `present.${i}.encoder.${part}`,
        type: 'float32',
        dims: ['batch_size', 1, 'encoder_sequence_length_out', hidden],
      });
      initializers.push(tensor(`embed_${i}_${part}`, randomFloats(vocab * SELF_DIM, rand, 1), [vocab, SELF_DIM]));
      nodes.push(
        { op: 'Gather', inputs: [`embed_${i}_${part}`, 'ids_4d_base'], outputs: [`self_new_${i}_${part}`] },
        {
          op: 'Concat',
          inputs: [`past_key_values.${i}.decoder.${part}`, `self_new_${i}_${part}`],
          outputs: [`present.${i}.decoder.${part}`],
          attributes: { axis: attr.int(2) },
        },
        {
          op: 'Concat',
          inputs: [`past_key_values.${i}.encoder.${part}`, 'fresh_cross'],
          outputs: [`cross_all_${i}_${part}`],
          attributes: { axis: attr.int(2) },
        },
        {
          op: 'Slice',
          inputs: [`cross_all_${i}_${part}`, 'zero_1d', 'source_length', 'two_1d'],
          outputs: [`present.${i}.encoder.${part}`],
        },
      );
    }
    // Cross-attention of layer i: softmax(query K^T + mask) V -> [B, 1, L, hidden].
    nodes.push(
      { op: 'Transpose', inputs: [`present.${i}.encoder.key`], outputs: [`keys_t_${i}`], attributes: { perm: attr.ints([0, 1, 3, 2]) } },
      { op: 'MatMul', inputs: ['query', `keys_t_${i}`], outputs: [`scores_${i}`] },
      { op: 'Add', inputs: [`scores_${i}`, 'mask_bias'], outputs: [`masked_${i}`] },
      { op: 'Softmax', inputs: [`masked_${i}`], outputs: [`weights_${i}`], attributes: { axis: attr.int(-1) } },
      { op: 'MatMul', inputs: [`weights_${i}`, `present.${i}.encoder.value`], outputs: [`context_${i}`] },
    );
    contexts.push(`context_${i}`);
  }
  nodes.push(
    { op: 'Add', inputs: contexts, outputs: ['context_sum'] },
    { op: 'Mul', inputs: ['context_sum', 'half_f'], outputs: ['context_4d'] },
    { op: 'Squeeze', inputs: ['context_4d', 'axis_1'], outputs: ['context'] },
    { op: 'MatMul', inputs: ['context', 'table'], outputs: ['translated'] },
    // The self-attention cache as a uniform shift per row.
    {
      op: 'ReduceMean',
      inputs: ['present.0.decoder.value'],
      outputs: ['self_mean_4d'],
      attributes: { axes: attr.ints([1, 2, 3]), keepdims: attr.int(1) },
    },
    { op: 'Squeeze', inputs: ['self_mean_4d', 'axis_1'], outputs: ['self_mean'] },
    { op: 'Mul', inputs: ['self_mean', 'shift_scale'], outputs: ['self_shift'] },
  );
  if (size === 'bench') {
    // About a real Marian decoder layer stack's work per token (~15M multiply-adds), at no effect on the argmax.
    initializers.push(
      tensor('dec_e', randomFloats(vocab * BENCH_DECODER_WIDTH, rand, 1), [vocab, BENCH_DECODER_WIDTH]),
      tensor('dec_out', randomFloats(BENCH_DECODER_WIDTH * vocab, rand, 1e-5), [BENCH_DECODER_WIDTH, vocab]),
    );
    let x = 'dec_x';
    nodes.push({ op: 'Gather', inputs: ['dec_e', 'input_ids'], outputs: [x] });
    for (let layer = 0; layer < BENCH_DECODER_LAYERS; layer++) {
      initializers.push(
        tensor(`dec_w${layer}`, randomFloats(BENCH_DECODER_WIDTH ** 2, rand, 0.05), [BENCH_DECODER_WIDTH, BENCH_DECODER_WIDTH]),
      );
      nodes.push(
        { op: 'MatMul', inputs: [x, `dec_w${layer}`], outputs: [`dec_h${layer}`] },
        { op: 'Tanh', inputs: [`dec_h${layer}`], outputs: [`dec_a${layer}`] },
      );
      x = `dec_a${layer}`;
    }
    nodes.push(
      { op: 'MatMul', inputs: [x, 'dec_out'], outputs: ['dec_extra'] },
      { op: 'Add', inputs: ['translated', 'dec_extra'], outputs: ['translated_extra'] },
      { op: 'Add', inputs: ['translated_extra', 'self_shift'], outputs: ['logits'] },
    );
  } else {
    nodes.push({ op: 'Add', inputs: ['translated', 'self_shift'], outputs: ['logits'] });
  }
  inputs.push({ name: 'use_cache_branch', type: 'bool', dims: [1] });
  return { graphName: 'translator_decoder', inputs, outputs, initializers: used(initializers, nodes), nodes };
}

function tokenizerJson(p: Pieces, style: Seq2SeqStyle) {
  const id = (piece: string) => p.list.findIndex((x) => x.piece === piece);
  const special = (piece: string) => ({
    id: id(piece),
    content: piece,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const eos = p.specials.eos;
  const lead = style === 'm2m100' ? [{ SpecialToken: { id: '__en__', type_id: 0 } }] : [];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: p.list
      .filter((x) => /^<.*>$|^__[a-z]+__$/.test(x.piece))
      .map((x) => x.piece)
      .map(special),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }],
    },
    // M2M100's tokenizer puts the source language first: Transformers.js swaps in src_lang there.
    post_processor: {
      type: 'TemplateProcessing',
      single: [...lead, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [
        ...lead,
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
      ],
      special_tokens: Object.fromEntries(
        [eos, ...(style === 'm2m100' ? ['__en__'] : [])].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }]),
      ),
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: id(p.specials.unk), vocab: p.list.map((x) => [x.piece, x.score]), byte_fallback: false },
  };
}

function configs(style: Seq2SeqStyle, vocab: Record<string, number>) {
  const size = Object.keys(vocab).length;
  const hidden = hiddenSize(size);
  const eos = vocab['</s>']!;
  const pad = vocab['<pad>']!;
  const common = {
    is_encoder_decoder: true,
    vocab_size: size,
    d_model: hidden,
    eos_token_id: eos,
    pad_token_id: pad,
    decoder_start_token_id: pad,
  };
  if (style === 'm2m100') {
    const config = {
      ...common,
      decoder_start_token_id: eos,
      model_type: 'm2m_100',
      architectures: ['M2M100ForConditionalGeneration'],
      encoder_layers: LAYERS,
      decoder_layers: LAYERS,
      encoder_attention_heads: 1,
      decoder_attention_heads: 1,
      max_position_embeddings: 1024,
      bos_token_id: vocab['<s>'],
    };
    const generation = { bos_token_id: vocab['<s>'], decoder_start_token_id: eos, eos_token_id: eos, pad_token_id: pad, max_length: 200 };
    const tokenizerConfig = {
      tokenizer_class: 'M2M100Tokenizer',
      model_max_length: 1024,
      src_lang: 'en',
      tgt_lang: 'de',
      eos_token: '</s>',
      unk_token: '<unk>',
      pad_token: '<pad>',
      bos_token: '<s>',
    };
    return { config, generation, tokenizerConfig };
  }
  if (style === 'marian') {
    const config = {
      ...common,
      model_type: 'marian',
      architectures: ['MarianMTModel'],
      encoder_layers: LAYERS,
      decoder_layers: LAYERS,
      encoder_attention_heads: 1,
      decoder_attention_heads: 1,
      max_position_embeddings: 512,
      bos_token_id: eos,
      forced_eos_token_id: eos,
      bad_words_ids: [[pad]],
    };
    const generation = {
      bad_words_ids: [[pad]],
      bos_token_id: eos,
      decoder_start_token_id: pad,
      eos_token_id: eos,
      forced_eos_token_id: eos,
      max_length: 512,
      pad_token_id: pad,
    };
    const tokenizerConfig = {
      tokenizer_class: 'MarianTokenizer',
      model_max_length: 512,
      eos_token: '</s>',
      unk_token: '<unk>',
      pad_token: '<pad>',
      source_lang: 'en',
      target_lang: 'de',
    };
    return { config, generation, tokenizerConfig };
  }
  const config = {
    ...common,
    model_type: 't5',
    architectures: ['T5ForConditionalGeneration'],
    num_layers: LAYERS,
    num_decoder_layers: LAYERS,
    num_heads: 1,
    d_kv: hidden,
    relative_attention_num_buckets: 32,
    task_specific_params: {
      summarization: { prefix: T5_PREFIXES.summarization },
      translation_en_to_de: { prefix: T5_PREFIXES.translation_en_to_de },
    },
  };
  const generation = { decoder_start_token_id: pad, eos_token_id: eos, pad_token_id: pad };
  const tokenizerConfig = {
    tokenizer_class: 'T5Tokenizer',
    model_max_length: 512,
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
  };
  return { config, generation, tokenizerConfig };
}

/** Writes the model folder `dir` (created). Same arguments, same bytes. */
export async function writeSeq2SeqFixture(dir: string, style: Seq2SeqStyle, size: Seq2SeqSize = 'tiny', seed = 1): Promise<Seq2SeqFixture> {
  const p = pieces(style, size);
  const vocab: Record<string, number> = Object.fromEntries(p.list.map((x, i) => [x.piece, i]));
  const map = targetOf(style, vocab);
  const c = configs(style, vocab);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify(c.config, null, 2),
    'generation_config.json': JSON.stringify(c.generation, null, 2),
    'tokenizer.json': JSON.stringify(tokenizerJson(p, style)),
    'tokenizer_config.json': JSON.stringify(c.tokenizerConfig, null, 2),
    'onnx/encoder_model.onnx': encodeModel(encoderGraph(p.list.length, size, seed)),
    'onnx/decoder_model_merged.onnx': encodeModel(decoderGraph(map, size, seed)),
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  const german = new Map(DICTIONARY);
  const expected = (text: string) =>
    text
      .split(/\s+/)
      .filter((w) => w !== '')
      .flatMap((w) => {
        const bare = w.replace(/:$/, '');
        if (style === 't5' && PREFIX_WORDS.includes(bare)) return [];
        return [german.get(bare) ?? bare];
      })
      .join(' ')
      // The tokenizer's clean_up_tokenization_spaces, as decoding applies it.
      .replace(/ ([.,!?])/g, '$1');
  return { dir, style, vocab, expected, words: [...DICTIONARY.map(([en]) => en), ...fillers(size)] };
}

/** A Lathe manifest serving the fixture as `lathe models pull` writes one for its task. */
export function seq2seqManifest(fixture: Pick<Seq2SeqFixture, 'dir' | 'style'>, parameters: Record<string, unknown> = {}): object {
  return {
    task: fixture.style === 't5' ? 'text2text-generation' : 'translation',
    description: `Generated ${{ marian: 'Marian', t5: 'T5', m2m100: 'M2M100' }[fixture.style]}-layout translator (test fixture)`,
    license: 'MIT',
    source: { huggingface: fixture.dir, file: 'onnx/encoder_model.onnx' },
    inputs: [
      { name: 'input_ids', datatype: 'INT64', shape: [-1] },
      { name: 'attention_mask', datatype: 'INT64', shape: [-1] },
    ],
    outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, -1] }],
    parameters: { dtype: 'fp32', decoder: { huggingface: fixture.dir, file: 'onnx/decoder_model_merged.onnx' }, ...parameters },
    maxBatchSize: 8,
    instances: 1,
  };
}

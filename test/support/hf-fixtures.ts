/**
 * Tiny BERT-style models written by test code in the Transformers.js Hub layout, for machines that
 * cannot reach the Hub. Each model directory holds exactly what Transformers.js 4 reads:
 * `config.json` (AutoConfig), `tokenizer.json` + `tokenizer_config.json` (AutoTokenizer only looks
 * for those two) and `onnx/model.onnx` (the fp32 file; `onnx/model_quantized.onnx` etc. are other
 * dtypes). The three models share one seeded encoder; `hf-reference.ts` recomputes their outputs
 * from the same weights without ONNX.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ConstantTensor, encodeModel, type ModelSpec, type NodeSpec, attr, tensor } from '../../src/onnx/onnx-builder.js';
import type { BertDims, BertWeights, Dense, LayerNorm, WordPieceTokenizerJson } from './hf-reference.js';
import { random } from './models.js';

export interface Fixture {
  dir: string;
  kind: 'encoder' | 'sequence-classifier' | 'token-classifier';
  /** id2label in id order, for the classifiers. */
  labels?: string[];
}

export interface BertFixtures {
  encoder: Fixture;
  classifier: Fixture;
  tagger: Fixture;
  /** The weights every model was built from (the encoder is shared), for `hf-reference.ts`. */
  weights: BertWeights;
  tokenizer: WordPieceTokenizerJson;
}

export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'];
export const NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC'];
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
/** Positions the model has embeddings for; also the tokenizer's `model_max_length`. */
export const MAX_POSITIONS = 64;

const WORDS = `the a an and or but is are was were be been am to of in on at for with from by about as it this that
i you he she we they me my your his her our their not no yes very so too really quite just also
good great excellent amazing wonderful love like liked happy nice best bad terrible awful hate worst poor sad boring
okay fine average movie film book food service staff day time place city people world year today yesterday tomorrow
work works go went live lives visit visited meet met say said make made see saw get got think know want
john smith mary jones alice bob paris london berlin new york tokyo google apple microsoft company university
river street hello thanks please what who where when how why one two three ten hundred first last more most
have has had do does did will would can could should there here all some any other than then now only
cost price euro text model test`.split(/\s+/);
const SUFFIXES = ['s', 'es', 'ed', 'ing', 'ly', 'er', 'est', 'ful', 'ness', 'able', 'tion', 'ment'];
/** Non-ASCII pieces: whole words, letters that also continue words, an ideograph pair, a currency sign. */
const NON_ASCII = ['café', 'münchen', 'zürich', 'é', '##é', 'ü', '##ü', 'ö', '##ö', 'ß', '##ß', 'ñ', '##ñ', '東', '京', '都', '€'];

/** [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, ASCII punctuation, digits, letters, then words and pieces. */
export function bertVocabulary(): string[] {
  const ascii = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
  const punctuation = [...ascii(0x21, 0x2f), ...ascii(0x3a, 0x40), ...ascii(0x5b, 0x60), ...ascii(0x7b, 0x7e)];
  const digits = ascii(0x30, 0x39);
  const letters = ascii(0x61, 0x7a);
  const all = [
    ...SPECIAL_TOKENS,
    ...punctuation,
    ...digits,
    ...digits.map((d) => `##${d}`),
    ...letters,
    ...letters.map((l) => `##${l}`),
    ...WORDS,
    ...SUFFIXES.map((s) => `##${s}`),
    'un',
    're',
    ...NON_ASCII,
  ];
  return [...new Set(all)];
}

export function bertTokenizerJson(vocabulary: readonly string[]): WordPieceTokenizerJson & Record<string, unknown> {
  const vocab = Object.fromEntries(vocabulary.map((token, id) => [token, id]));
  const special = (token: string) => ({ id: token, ids: [vocab[token]!], tokens: [token] });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content) => ({
      id: vocab[content]!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    // strip_accents false (unlike bert-base-uncased) so that the non-ASCII vocabulary entries match.
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': special('[CLS]'), '[SEP]': special('[SEP]') },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

const TOKENIZER_CONFIG = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  strip_accents: false,
  tokenize_chinese_chars: true,
  model_max_length: MAX_POSITIONS,
  padding_side: 'right',
  clean_up_tokenization_spaces: true,
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  mask_token: '[MASK]',
};

/** Added to the O logit so that O wins for a good share of tokens, as in a real tagger. */
const O_BIAS = 3.5;

export const BERT_DIMS: Omit<BertDims, 'vocab'> = {
  hidden: 32,
  heads: 2,
  intermediate: 64,
  maxPositions: MAX_POSITIONS,
  typeVocab: 2,
  layerNormEps: 1e-12,
};

/** Seeded weights: uniform, scaled so that attention is far from uniform and logits spread over labels. */
export function bertWeights(seed: number, vocab: number, classes = SENTIMENT_LABELS.length): BertWeights {
  const dims: BertDims = { ...BERT_DIMS, vocab };
  const h = dims.hidden;
  const rand = random(seed);
  const uniform = (n: number, scale: number, center = 0) => Float32Array.from({ length: n }, () => center + (rand() * 2 - 1) * scale);
  const denseLayer = (inSize: number, out: number, gain = 1.5): Dense => ({
    w: uniform(inSize * out, gain * Math.sqrt(3 / inSize)),
    b: uniform(out, 0.1),
    in: inSize,
    out,
  });
  const norm = (): LayerNorm => ({ gamma: uniform(h, 0.2, 1), beta: uniform(h, 0.1) });
  const weights: BertWeights = {
    dims,
    wordEmbeddings: uniform(vocab * h, 1),
    positionEmbeddings: uniform(dims.maxPositions * h, 0.5),
    tokenTypeEmbeddings: uniform(dims.typeVocab * h, 0.5),
    embeddingsNorm: norm(),
    query: denseLayer(h, h, 2.5),
    key: denseLayer(h, h, 2.5),
    value: denseLayer(h, h),
    attentionOutput: denseLayer(h, h),
    attentionNorm: norm(),
    intermediate: denseLayer(h, dims.intermediate),
    output: denseLayer(dims.intermediate, h),
    outputNorm: norm(),
    pooler: denseLayer(h, h),
    classifier: denseLayer(h, classes, 3),
    tagger: denseLayer(h, NER_LABELS.length, 3),
  };
  weights.tagger.b[0]! += O_BIAS;
  return weights;
}

function bertConfig(w: BertWeights, architecture: string, labels?: string[]): object {
  const { dims } = w;
  return {
    model_type: 'bert',
    architectures: [architecture],
    vocab_size: dims.vocab,
    hidden_size: dims.hidden,
    num_attention_heads: dims.heads,
    num_hidden_layers: 1,
    intermediate_size: dims.intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: dims.maxPositions,
    type_vocab_size: dims.typeVocab,
    layer_norm_eps: dims.layerNormEps,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    ...(labels && {
      id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    }),
    ...(architecture === 'BertForSequenceClassification' && { problem_type: 'single_label_classification' }),
  };
}

type BertHead = 'none' | 'sequence' | 'token' | 'mlm';

/** Collects nodes and initializers; every helper names its tensors after the layer it builds. */
class Graph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: ConstantTensor[] = [];

  node(op: string, inputs: string[], output: string, attributes?: NodeSpec['attributes']): string {
    this.nodes.push({ op, inputs, outputs: [output], ...(attributes && { attributes }) });
    return output;
  }

  /** An initializer; asking again for the same name reuses the first one. */
  constant(name: string, data: Float32Array | BigInt64Array, dims: number[]): string {
    if (!this.initializers.some((t) => t.name === name)) this.initializers.push(tensor(name, data, dims));
    return name;
  }

  dense(x: string, layer: Dense, name: string): string {
    const w = this.constant(`${name}.weight`, layer.w, [layer.in, layer.out]);
    const b = this.constant(`${name}.bias`, layer.b, [layer.out]);
    return this.node('Add', [this.node('MatMul', [x, w], `${name}.matmul`), b], name);
  }

  layerNorm(x: string, norm: LayerNorm, eps: number, name: string): string {
    const gamma = this.constant(`${name}.weight`, norm.gamma, [norm.gamma.length]);
    const beta = this.constant(`${name}.bias`, norm.beta, [norm.beta.length]);
    return this.node('LayerNormalization', [x, gamma, beta], name, { axis: attr.int(-1), epsilon: attr.float(eps) });
  }

  i64(name: string, ...values: number[]): string {
    return this.constant(name, BigInt64Array.from(values, BigInt), values.length === 1 ? [] : [values.length]);
  }

  f32(name: string, value: number): string {
    return this.constant(name, Float32Array.of(value), []);
  }
}

/** word + position (0..n-1) + token type embeddings, then LayerNorm. */
function embeddings(g: Graph, w: BertWeights): string {
  const { hidden, vocab, maxPositions, typeVocab, layerNormEps } = w.dims;
  const words = g.node('Gather', [g.constant('embeddings.word', w.wordEmbeddings, [vocab, hidden]), 'input_ids'], 'embeddings.words');
  const types = g.node(
    'Gather',
    [g.constant('embeddings.type', w.tokenTypeEmbeddings, [typeVocab, hidden]), 'token_type_ids'],
    'embeddings.types',
  );
  const length = g.node('Gather', [g.node('Shape', ['input_ids'], 'input_shape'), g.i64('one_i64', 1)], 'sequence_length');
  const positionIds = g.node('Range', [g.i64('zero_i64', 0), length, g.i64('one_i64', 1)], 'position_ids');
  const positions = g.node(
    'Gather',
    [g.constant('embeddings.position', w.positionEmbeddings, [maxPositions, hidden]), positionIds],
    'embeddings.positions',
  );
  const sum = g.node('Add', [g.node('Add', [words, types], 'embeddings.words_types'), positions], 'embeddings.sum');
  return g.layerNorm(sum, w.embeddingsNorm, layerNormEps, 'embeddings.norm');
}

/** Multi-head self-attention with an additive -1e4 mask on padded keys, residual, LayerNorm. */
function attention(g: Graph, w: BertWeights, x: string): string {
  const { hidden, heads, layerNormEps } = w.dims;
  const size = hidden / heads;
  const split = g.i64('attention.split_shape', 0, 0, heads, size);
  const project = (layer: Dense, name: string, perm: number[]) =>
    g.node('Transpose', [g.node('Reshape', [g.dense(x, layer, name), split], `${name}.heads`)], `${name}.transposed`, {
      perm: attr.ints(perm),
    });
  const q = project(w.query, 'attention.query', [0, 2, 1, 3]); // [batch, heads, seq, size]
  const k = project(w.key, 'attention.key', [0, 2, 3, 1]); // [batch, heads, size, seq]
  const v = project(w.value, 'attention.value', [0, 2, 1, 3]);
  const scores = g.node(
    'Mul',
    [g.node('MatMul', [q, k], 'attention.qk'), g.f32('attention.scale', 1 / Math.sqrt(size))],
    'attention.scores',
  );
  const mask = g.node('Cast', ['attention_mask'], 'attention.mask', { to: attr.int(1) });
  const bias = g.node(
    'Mul',
    [g.node('Sub', [mask, g.f32('one_f32', 1)], 'attention.mask_minus_one'), g.f32('attention.mask_scale', 1e4)],
    'attention.bias',
  );
  const bias4 = g.node('Unsqueeze', [bias, g.i64('attention.bias_axes', 1, 2)], 'attention.bias_4d'); // [batch, 1, 1, seq]
  const probs = g.node('Softmax', [g.node('Add', [scores, bias4], 'attention.masked')], 'attention.probs', { axis: attr.int(-1) });
  const context = g.node('Transpose', [g.node('MatMul', [probs, v], 'attention.context_heads')], 'attention.context_transposed', {
    perm: attr.ints([0, 2, 1, 3]),
  });
  const merged = g.node('Reshape', [context, g.i64('attention.merge_shape', 0, 0, hidden)], 'attention.context');
  const out = g.dense(merged, w.attentionOutput, 'attention.output');
  return g.layerNorm(g.node('Add', [x, out], 'attention.residual'), w.attentionNorm, layerNormEps, 'attention.norm');
}

/** Dense, exact GELU (opset 17 has no Gelu op), dense, residual, LayerNorm. */
function feedForward(g: Graph, w: BertWeights, x: string): string {
  const inner = g.dense(x, w.intermediate, 'ffn.intermediate');
  const erf = g.node('Erf', [g.node('Mul', [inner, g.f32('inv_sqrt2', Math.SQRT1_2)], 'ffn.scaled')], 'ffn.erf');
  const half = g.node('Mul', [inner, g.f32('half', 0.5)], 'ffn.half');
  const gelu = g.node('Mul', [half, g.node('Add', [erf, g.f32('one_f32', 1)], 'ffn.erf_plus_one')], 'ffn.gelu');
  const out = g.dense(gelu, w.output, 'ffn.output');
  return g.layerNorm(g.node('Add', [x, out], 'ffn.residual'), w.outputNorm, w.dims.layerNormEps, 'ffn.norm');
}

export function bertGraph(w: BertWeights, head: BertHead, decoder?: Dense): ModelSpec {
  const g = new Graph();
  const hidden = feedForward(g, w, attention(g, w, embeddings(g, w)));
  const ids = ['batch_size', 'sequence_length'];
  let output: ModelSpec['outputs'][number];
  if (head === 'none') {
    g.node('Identity', [hidden], 'last_hidden_state');
    output = { name: 'last_hidden_state', type: 'float32', dims: [...ids, w.dims.hidden] };
  } else if (head === 'mlm') {
    g.node('Identity', [g.dense(hidden, decoder!, 'cls.predictions.decoder')], 'logits');
    output = { name: 'logits', type: 'float32', dims: [...ids, decoder!.out] };
  } else if (head === 'sequence') {
    const cls = g.node('Gather', [hidden, g.i64('zero_i64', 0)], 'pooler.cls', { axis: attr.int(1) });
    const pooled = g.node('Tanh', [g.dense(cls, w.pooler, 'pooler.dense')], 'pooler.output');
    g.node('Identity', [g.dense(pooled, w.classifier, 'classifier')], 'logits');
    output = { name: 'logits', type: 'float32', dims: ['batch_size', w.classifier.out] };
  } else {
    g.node('Identity', [g.dense(hidden, w.tagger, 'classifier')], 'logits');
    output = { name: 'logits', type: 'float32', dims: [...ids, w.tagger.out] };
  }
  return {
    graphName: `tiny-bert-${head}`,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, type: 'int64' as const, dims: ids })),
    outputs: [output],
    initializers: g.initializers,
    nodes: g.nodes,
  };
}

async function writeModel(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
}

/**
 * Writes `encoder/`, `sequence-classifier/` and `token-classifier/` under `root` (which must exist).
 * Same seed, same bytes.
 */
export async function writeBertFixtures(root: string, seed = 1): Promise<BertFixtures> {
  const vocabulary = bertVocabulary();
  const tokenizer = bertTokenizerJson(vocabulary);
  const weights = bertWeights(seed, vocabulary.length);
  const models: Array<{ fixture: Fixture; architecture: string; head: BertHead }> = [
    { fixture: { dir: join(root, 'encoder'), kind: 'encoder' }, architecture: 'BertModel', head: 'none' },
    {
      fixture: { dir: join(root, 'sequence-classifier'), kind: 'sequence-classifier', labels: SENTIMENT_LABELS },
      architecture: 'BertForSequenceClassification',
      head: 'sequence',
    },
    {
      fixture: { dir: join(root, 'token-classifier'), kind: 'token-classifier', labels: NER_LABELS },
      architecture: 'BertForTokenClassification',
      head: 'token',
    },
  ];
  for (const { fixture, architecture, head } of models) {
    await writeModel(fixture.dir, {
      'config.json': JSON.stringify(bertConfig(weights, architecture, fixture.labels), null, 2),
      'tokenizer.json': JSON.stringify(tokenizer),
      'tokenizer_config.json': JSON.stringify(TOKENIZER_CONFIG, null, 2),
      // Python's BertTokenizer (slow) reads this; Transformers.js does not.
      'vocab.txt': `${vocabulary.join('\n')}\n`,
      'onnx/model.onnx': encodeModel(bertGraph(weights, head)),
    });
  }
  const [encoder, classifier, tagger] = models.map((m) => m.fixture) as [Fixture, Fixture, Fixture];
  return { encoder, classifier, tagger, weights, tokenizer };
}

/** A cross-encoder's one label, as sentence-transformers' CrossEncoder exports name it. */
export const CROSS_ENCODER_LABELS = ['LABEL_0'];

/**
 * A cross-encoder (a re-ranker) in the Hub layout: BertForSequenceClassification with one label,
 * scoring a (query, passage) pair given as the tokenizer's pair template (segment ids 0 and 1).
 */
export async function writeCrossEncoderFixture(dir: string, seed = 3): Promise<{ dir: string; weights: BertWeights }> {
  const vocabulary = bertVocabulary();
  const weights = bertWeights(seed, vocabulary.length, CROSS_ENCODER_LABELS.length);
  await writeModel(dir, {
    'config.json': JSON.stringify(bertConfig(weights, 'BertForSequenceClassification', CROSS_ENCODER_LABELS), null, 2),
    'tokenizer.json': JSON.stringify(bertTokenizerJson(vocabulary)),
    'tokenizer_config.json': JSON.stringify(TOKENIZER_CONFIG, null, 2),
    'vocab.txt': `${vocabulary.join('\n')}\n`,
    'onnx/model.onnx': encodeModel(bertGraph(weights, 'sequence')),
  });
  return { dir, weights };
}

/**
 * A SPLADE model in the Hub layout: BertForMaskedLM whose logits over the vocabulary become a
 * sparse vector (max over tokens of log(1 + relu)). Its decoder is a plain dense layer (real
 * checkpoints put a transform before it; the layout and the output are the same). The bias is
 * negative so that most entries are 0, as in a trained SPLADE model.
 */
export async function writeSpladeFixture(dir: string, seed = 5): Promise<{ dir: string; weights: BertWeights; decoder: Dense }> {
  const vocabulary = bertVocabulary();
  const weights = bertWeights(seed, vocabulary.length);
  const rand = random(seed + 1000);
  const h = weights.dims.hidden;
  const decoder: Dense = {
    w: Float32Array.from({ length: h * vocabulary.length }, () => (rand() * 2 - 1) * Math.sqrt(3 / h)),
    b: Float32Array.from({ length: vocabulary.length }, () => -1 - rand()),
    in: h,
    out: vocabulary.length,
  };
  await writeModel(dir, {
    'config.json': JSON.stringify(bertConfig(weights, 'BertForMaskedLM'), null, 2),
    'tokenizer.json': JSON.stringify(bertTokenizerJson(vocabulary)),
    'tokenizer_config.json': JSON.stringify(TOKENIZER_CONFIG, null, 2),
    'vocab.txt': `${vocabulary.join('\n')}\n`,
    'onnx/model.onnx': encodeModel(bertGraph(weights, 'mlm', decoder)),
  });
  return { dir, weights, decoder };
}

/**
 * Plain-TypeScript references for the tiny Hugging Face-layout models of `hf-fixtures.ts`: the BERT
 * forward pass in float64 loops over the stored weights, and a WordPiece tokenizer that also returns
 * character offsets. Nothing here reads the ONNX files or uses Transformers.js, so a test that
 * compares against these checks the graphs, the Hub layout and our own pre/post-processing
 * independently.
 */

export interface BertDims {
  vocab: number;
  hidden: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  typeVocab: number;
  layerNormEps: number;
}

/** A dense layer `y = x W + b` with W stored row-major as [in, out] (MatMul's layout, not PyTorch's). */
export interface Dense {
  w: Float32Array;
  b: Float32Array;
  in: number;
  out: number;
}

export interface LayerNorm {
  gamma: Float32Array;
  beta: Float32Array;
}

export interface BertWeights {
  dims: BertDims;
  /** [vocab, hidden], [maxPositions, hidden], [typeVocab, hidden] */
  wordEmbeddings: Float32Array;
  positionEmbeddings: Float32Array;
  tokenTypeEmbeddings: Float32Array;
  embeddingsNorm: LayerNorm;
  query: Dense;
  key: Dense;
  value: Dense;
  attentionOutput: Dense;
  attentionNorm: LayerNorm;
  intermediate: Dense;
  output: Dense;
  outputNorm: LayerNorm;
  /** Sequence classifier: tanh(pooler([CLS])) then classifier. */
  pooler: Dense;
  classifier: Dense;
  /** Token classifier: one dense layer over every token's hidden state. */
  tagger: Dense;
}

type Vector = Float64Array;

function dense(layer: Dense, x: ArrayLike<number>): Vector {
  const y = Float64Array.from(layer.b);
  for (let i = 0; i < layer.in; i += 1) {
    const xi = x[i]!;
    const row = i * layer.out;
    for (let o = 0; o < layer.out; o += 1) y[o]! += xi * layer.w[row + o]!;
  }
  return y;
}

function layerNorm(norm: LayerNorm, x: Vector, eps: number): Vector {
  const n = x.length;
  const mean = x.reduce((s, v) => s + v, 0) / n;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * norm.gamma[i]! + norm.beta[i]!);
}

function add(a: Vector, b: Vector): Vector {
  return a.map((v, i) => v + b[i]!);
}

/** erf by Numerical Recipes' erfc Chebyshev fit: fractional error below 1.2e-7 everywhere. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(poly);
  return x >= 0 ? 1 - erfc : erfc - 1;
}

/** BERT's exact GELU, x * Φ(x). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

function embed(w: BertWeights, ids: readonly number[], typeIds: readonly number[]): Vector[] {
  const h = w.dims.hidden;
  return ids.map((id, t) => {
    const e = new Float64Array(h);
    for (let i = 0; i < h; i += 1) {
      e[i] = w.wordEmbeddings[id * h + i]! + w.positionEmbeddings[t * h + i]! + w.tokenTypeEmbeddings[typeIds[t]! * h + i]!;
    }
    return layerNorm(w.embeddingsNorm, e, w.dims.layerNormEps);
  });
}

/** Multi-head self-attention where every position attends only to the unmasked positions. */
function selfAttention(w: BertWeights, x: Vector[], mask: readonly number[]): Vector[] {
  const { hidden, heads } = w.dims;
  const size = hidden / heads;
  const q = x.map((v) => dense(w.query, v));
  const k = x.map((v) => dense(w.key, v));
  const v = x.map((row) => dense(w.value, row));
  const keys = mask.flatMap((m, s) => (m === 1 ? [s] : []));
  return x.map((_, t) => {
    const context = new Float64Array(hidden);
    for (let head = 0; head < heads; head += 1) {
      const base = head * size;
      const scores = keys.map((s) => {
        let dot = 0;
        for (let d = 0; d < size; d += 1) dot += q[t]![base + d]! * k[s]![base + d]!;
        return dot / Math.sqrt(size);
      });
      const probs = softmax(scores);
      keys.forEach((s, j) => {
        for (let d = 0; d < size; d += 1) context[base + d]! += probs[j]! * v[s]![base + d]!;
      });
    }
    return dense(w.attentionOutput, context);
  });
}

/**
 * `last_hidden_state` for one sequence: rows for every position (positions are 0..n-1, as in
 * BertModel without position_ids). `mask` defaults to all ones and `typeIds` to zeros.
 */
export function bertEncoder(w: BertWeights, ids: readonly number[], mask?: readonly number[], typeIds?: readonly number[]): number[][] {
  const eps = w.dims.layerNormEps;
  const x0 = embed(w, ids, typeIds ?? ids.map(() => 0));
  const attended = selfAttention(w, x0, mask ?? ids.map(() => 1));
  const x1 = x0.map((row, t) => layerNorm(w.attentionNorm, add(row, attended[t]!), eps));
  const x2 = x1.map((row) => {
    const inner = dense(w.intermediate, row).map(gelu);
    return layerNorm(w.outputNorm, add(row, dense(w.output, inner)), eps);
  });
  return x2.map((row) => Array.from(row));
}

/** Sequence-classifier logits from the [CLS] (first) position. */
export function bertSequenceLogits(
  w: BertWeights,
  ids: readonly number[],
  mask?: readonly number[],
  typeIds?: readonly number[],
): number[] {
  const cls = bertEncoder(w, ids, mask, typeIds)[0]!;
  return Array.from(dense(w.classifier, dense(w.pooler, cls).map(Math.tanh)));
}

/** Token-classifier logits, one row per position. */
export function bertTokenLogits(w: BertWeights, ids: readonly number[], mask?: readonly number[], typeIds?: readonly number[]): number[][] {
  return bertEncoder(w, ids, mask, typeIds).map((row) => Array.from(dense(w.tagger, row)));
}

export function softmax(x: readonly number[]): number[] {
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

// ---- WordPiece with offsets -------------------------------------------------------------------

type Template = ReadonlyArray<{ SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } }>;

/** The parts of a Hugging Face `tokenizer.json` that a BERT WordPiece tokenizer uses. */
export interface WordPieceTokenizerJson {
  added_tokens: ReadonlyArray<{ id: number; content: string; special: boolean; normalized: boolean }>;
  normalizer: {
    type: 'BertNormalizer';
    clean_text: boolean;
    handle_chinese_chars: boolean;
    strip_accents: boolean | null;
    lowercase: boolean;
  };
  post_processor: {
    type: 'TemplateProcessing';
    single: Template;
    pair: Template;
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
  };
  model: {
    type: 'WordPiece';
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

export interface Encoding {
  ids: number[];
  tokens: string[];
  /** [start, end) in UTF-16 code units of the original text (what `String#slice` takes); null for template tokens. */
  offsets: Array<[number, number] | null>;
}

const PUNCTUATION = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const WORD = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, 'gu');

/** BERT's CJK ideograph blocks; tested per UTF-16 unit as Transformers.js does, so astral ones never match. */
function isChinese(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff);
}

/**
 * BertNormalizer applied one original character at a time, so every normalized UTF-16 unit knows
 * the original character it came from. Differs from normalizing the whole string only where
 * lowercasing depends on context (a final capital sigma).
 */
function normalizeAligned(
  cfg: WordPieceTokenizerJson['normalizer'],
  text: string,
  base: number,
): { text: string; from: Array<[number, number]> } {
  let out = '';
  const from: Array<[number, number]> = [];
  let index = base;
  for (const char of text) {
    let piece = char;
    const cp = char.charCodeAt(0);
    if (cfg.clean_text) {
      if (cp === 0 || cp === 0xfffd || (/^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u.test(char) && !'\t\n\r'.includes(char))) piece = '';
      else if (/^\s$/u.test(char)) piece = ' ';
    }
    if (cfg.handle_chinese_chars && piece !== '' && isChinese(cp)) piece = ` ${piece} `;
    if (cfg.lowercase) piece = piece.toLowerCase();
    if (cfg.strip_accents === true || (cfg.lowercase && cfg.strip_accents !== false))
      piece = piece.normalize('NFD').replace(/\p{Mn}/gu, '');
    out += piece;
    for (let i = 0; i < piece.length; i += 1) from.push([index, index + char.length]);
    index += char.length;
  }
  return { text: out, from };
}

/** Greedy longest-match-first WordPiece over one pre-token; `null` when some part is not in the vocabulary. */
function wordPieces(model: WordPieceTokenizerJson['model'], word: string): Array<{ token: string; start: number; end: number }> | null {
  const chars = [...word];
  if (chars.length > model.max_input_chars_per_word) return null;
  const pieces: Array<{ token: string; start: number; end: number }> = [];
  let start = 0;
  let unit = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | null = null;
    for (; end > start; end -= 1) {
      const candidate = (start > 0 ? model.continuing_subword_prefix : '') + chars.slice(start, end).join('');
      if (candidate in model.vocab) {
        found = candidate;
        break;
      }
    }
    if (found === null) return null;
    const length = chars.slice(start, end).join('').length;
    pieces.push({ token: found, start: unit, end: unit + length });
    unit += length;
    start = end;
  }
  return pieces;
}

/** Splits the original text around added tokens (longest match first), as the tokenizer does before normalizing. */
function splitAdded(text: string, added: readonly string[]): Array<{ text: string; start: number; added: boolean }> {
  const sections: Array<{ text: string; start: number; added: boolean }> = [];
  let plain = 0;
  for (let i = 0; i < text.length;) {
    const match = added.filter((a) => text.startsWith(a, i)).sort((a, b) => b.length - a.length)[0];
    if (!match) {
      i += 1;
      continue;
    }
    if (i > plain) sections.push({ text: text.slice(plain, i), start: plain, added: false });
    sections.push({ text: match, start: i, added: true });
    i += match.length;
    plain = i;
  }
  if (plain < text.length) sections.push({ text: text.slice(plain), start: plain, added: false });
  return sections;
}

/** Tokens of `text` with the template ([CLS] … [SEP]) applied, and each token's span in `text`. */
export function wordPieceEncode(json: WordPieceTokenizerJson, text: string): Encoding {
  const { model } = json;
  const body: Array<{ token: string; span: [number, number] }> = [];
  for (const section of splitAdded(
    text,
    json.added_tokens.filter((t) => !t.normalized).map((t) => t.content),
  )) {
    if (section.added) {
      body.push({ token: section.text, span: [section.start, section.start + section.text.length] });
      continue;
    }
    const normalized = normalizeAligned(json.normalizer, section.text, section.start);
    for (const m of normalized.text.matchAll(WORD)) {
      const at = m.index!;
      const pieces = wordPieces(model, m[0]) ?? [{ token: model.unk_token, start: 0, end: m[0].length }];
      for (const p of pieces) body.push({ token: p.token, span: [normalized.from[at + p.start]![0], normalized.from[at + p.end - 1]![1]] });
    }
  }
  const tokens: string[] = [];
  const offsets: Array<[number, number] | null> = [];
  for (const item of json.post_processor.single) {
    if ('SpecialToken' in item) {
      tokens.push(item.SpecialToken.id);
      offsets.push(null);
    } else {
      for (const b of body) {
        tokens.push(b.token);
        offsets.push(b.span);
      }
    }
  }
  return { ids: tokens.map((t) => model.vocab[t]!), tokens, offsets };
}

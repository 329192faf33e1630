/**
 * A tiny Whisper-layout model, in the folder layout Transformers.js 4 loads for
 * `automatic-speech-recognition`, whose transcript is known by construction rather than by running it.
 *
 * The decoder is a bigram model: the logits at every position are a fixed row chosen by that
 * position's input token (two Gathers: token -> row, row -> logits). Each row puts 0 on one token and
 * LOW on every other, so greedy decoding and sampling at any temperature <= 1 follow one path from the
 * forced decoder prompt. As Transformers.js runs a decoder without a KV cache on the last token only
 * after the first step, "the last input token" is all the model could use anyway.
 *
 *   ... <|transcribe|> <|notimestamps|> -> " hello" " world" <|endoftext|>
 *   ... <|transcribe|> -> <|0.00|> " he" "llo" " wor" "ld" <|1.00|> <|endoftext|>
 *
 * Both decode to " hello world". The timestamped path spells the words with other tokens because a
 * bigram model cannot end " world" with <|endoftext|> on one path and with <|1.00|> on the other; its
 * first token is a timestamp because WhisperTimeStampLogitsProcessor forces one there.
 *
 * Translation: Transformers.js runs the first step on the whole decoder prompt, so a <|translate|>
 * anywhere in it can steer that step. After <|notimestamps|> in a prompt with <|translate|>, the row
 * puts 0 on " hi" instead of " hello", and the bigram goes on to " there": " hi there". With
 * timestamps the prompt ends with the task token itself, and <|translate|> leads through <|0.02|>
 * " h" "i" " the" "re" <|1.00|>: the segment (0.02, 1.00) " hi there".
 *
 * Language detection: after <|startoftranscript|> the row puts 0 on every language token, and the
 * model adds +-LANGUAGE_MARGIN x (the encoder's channel 0) to <|fr|> and <|en|>. Channel 0 is
 * tanh(PITCH_GAIN x (mean of the upper 40 log-mel bins - mean of the lower 40)): audio whose energy
 * sits above about 1.5 kHz is "French", below it "English" (a 440 Hz tone is English, a 4 kHz tone
 * French; silence is a tie, which the first language, English, wins).
 *
 * The encoder is a real (seeded, random) function of the log-mel features, and its output is a decoder
 * input as Transformers.js requires, but it reaches the logits only as 1e-3 x its mean, added to every
 * logit of a position: |shift| <= 1e-3 (tanh output), and a uniform shift changes neither the softmax
 * nor the argmax; and through the language tokens after <|startoftranscript|> (below). So the
 * transcript does not depend on the audio at all, and the detected language only on its pitch.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attr, encodeModel, type ModelSpec, tensor } from '../../src/onnx/onnx-builder.js';
import { random } from './models.js';

const MELS = 80;
const FRAMES = 3000;
/** Encoder positions: two mel frames each, as Whisper's stride-2 convolution gives. */
const POSITIONS = 1500;
const HIDDEN = 4;
/** <|0.00|> to <|30.00|> in 0.02 s steps, as in every Whisper vocabulary. */
const TIMESTAMPS = 1501;
const TIME_PRECISION = 0.02;
/** Logit of every token a row does not pick; e^-100 is nothing next to e^0, even over the whole vocabulary. */
const LOW = -100;
const ENCODER_SHIFT = 1e-3;
/** How far the encoder's pitch channel moves <|fr|> up and <|en|> down after <|startoftranscript|>. */
const LANGUAGE_MARGIN = 10;
/** The pitch channel's gain: a tone a few dB over silence in either half of the mel bins saturates tanh. */
const PITCH_GAIN = 1000;

const LANGUAGES = ['en', 'fr', 'de', 'es'];
/** Byte-level BPE pieces ("Ġ" is the space). */
const PIECES = ['Ġhello', 'Ġworld', 'Ġhe', 'llo', 'Ġwor', 'ld', 'Ġhi', 'Ġthere', 'Ġh', 'Ġthe', 're'];
const SPECIALS = [
  '<|endoftext|>',
  '<|startoftranscript|>',
  ...LANGUAGES.map((l) => `<|${l}|>`),
  '<|translate|>',
  '<|transcribe|>',
  '<|notimestamps|>',
];

export interface WhisperFixture {
  dir: string;
  /** What `text` of the API holds (the pipeline's " hello world", trimmed). */
  expectedText: string;
  /** The pipeline's segments for audio up to 30 s with return_timestamps (start and end in seconds). */
  expectedSegments: Array<{ start: number; end: number; text: string }>;
  /** The same for task=translate: " hi there" (see the file's comment). */
  expectedTranslation: string;
  expectedTranslationSegments: Array<{ start: number; end: number; text: string }>;
  /** Languages the model has a token for (generation_config.lang_to_id). */
  languages: string[];
  /** Token ids of the two paths after the decoder prompt, <|endoftext|> included. */
  paths: { noTimestamps: number[]; timestamps: number[] };
  /** The model's id of every token, timestamps included. */
  vocab: Readonly<Record<string, number>>;
}

function timestampToken(i: number): string {
  return `<|${(i * TIME_PRECISION).toFixed(2)}|>`;
}

/** Text pieces (printable ASCII, then the words' pieces) before the specials, then the timestamps, as in Whisper. */
function vocabulary(): Record<string, number> {
  const ascii = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i));
  const timestamps = Array.from({ length: TIMESTAMPS }, (_, i) => timestampToken(i));
  return Object.fromEntries([...ascii, ...PIECES, ...SPECIALS, ...timestamps].map((t, i) => [t, i]));
}

/** The bigram table as "after this token comes that one"; any other token is followed by <|endoftext|>. */
function successors(id: (token: string) => number): Map<number, number> {
  const chain = (tokens: string[]) => tokens.slice(0, -1).map((t, i) => [id(t), id(tokens[i + 1]!)] as const);
  return new Map([
    ...chain(['<|notimestamps|>', 'Ġhello', 'Ġworld', '<|endoftext|>']),
    ...chain(['<|transcribe|>', '<|0.00|>', 'Ġhe', 'llo', 'Ġwor', 'ld', '<|1.00|>', '<|endoftext|>']),
    ...chain(['Ġhi', 'Ġthere', '<|endoftext|>']),
    ...chain(['<|translate|>', '<|0.02|>', 'Ġh', 'i', 'Ġthe', 're', '<|1.00|>']),
  ]);
}

function decoderGraph(vocabSize: number, next: Map<number, number>, id: (token: string) => number): ModelSpec {
  const eot = id('<|endoftext|>');
  // Row r of `logits_table` picks targets[r]; `row_of` maps each input token to the row of its successor.
  const targets = [eot, ...new Set(next.values())].filter((t, i, all) => all.indexOf(t) === i);
  const rowOf = new BigInt64Array(vocabSize);
  for (const [token, successor] of next) rowOf[token] = BigInt(targets.indexOf(successor));
  const table = new Float32Array((targets.length + 1) * vocabSize).fill(LOW);
  targets.forEach((target, r) => (table[r * vocabSize + target] = 0));
  // The last row, after <|startoftranscript|>: any language.
  rowOf[id('<|startoftranscript|>')] = BigInt(targets.length);
  for (const l of LANGUAGES) table[targets.length * vocabSize + id(`<|${l}|>`)] = 0;
  const languageShift = new Float32Array(vocabSize);
  languageShift[id('<|fr|>')] = LANGUAGE_MARGIN;
  languageShift[id('<|en|>')] = -LANGUAGE_MARGIN;
  // With <|translate|> in the prompt, the step after <|notimestamps|> says " hi" rather than " hello".
  const translateShift = new Float32Array(vocabSize);
  translateShift[id('Ġhello')] = LOW;
  translateShift[id('Ġhi')] = -LOW;
  const scalar = (name: string, token: string) => tensor(name, BigInt64Array.of(BigInt(id(token))), []);
  return {
    graphName: 'bigram_decoder',
    inputs: [
      { name: 'input_ids', type: 'int64', dims: ['batch_size', 'decoder_sequence_length'] },
      { name: 'encoder_hidden_states', type: 'float32', dims: ['batch_size', 'encoder_sequence_length', HIDDEN] },
    ],
    outputs: [{ name: 'logits', type: 'float32', dims: ['batch_size', 'decoder_sequence_length', vocabSize] }],
    initializers: [
      tensor('row_of', rowOf, [vocabSize]),
      tensor('logits_table', table, [targets.length + 1, vocabSize]),
      tensor('shift_scale', Float32Array.of(ENCODER_SHIFT), []),
      tensor('language_shift', languageShift, [vocabSize]),
      tensor('translate_shift', translateShift, [vocabSize]),
      scalar('sot_id', '<|startoftranscript|>'),
      scalar('translate_id', '<|translate|>'),
      scalar('notimestamps_id', '<|notimestamps|>'),
      tensor('start_0', BigInt64Array.of(0n), [1]),
      tensor('end_1', BigInt64Array.of(1n), [1]),
      tensor('axis_2', BigInt64Array.of(2n), [1]),
    ],
    nodes: [
      { op: 'Gather', inputs: ['row_of', 'input_ids'], outputs: ['rows'] },
      { op: 'Gather', inputs: ['logits_table', 'rows'], outputs: ['bigram'] },
      {
        op: 'ReduceMean',
        inputs: ['encoder_hidden_states'],
        outputs: ['audio_mean'],
        attributes: { axes: attr.ints([1, 2]), keepdims: attr.int(1) },
      },
      { op: 'Mul', inputs: ['audio_mean', 'shift_scale'], outputs: ['shift'] },
      { op: 'Add', inputs: ['bigram', 'shift'], outputs: ['shifted'] },
      // Language: +-MARGIN x pitch on <|fr|> and <|en|>, at <|startoftranscript|> positions only.
      { op: 'Slice', inputs: ['encoder_hidden_states', 'start_0', 'end_1', 'axis_2'], outputs: ['pitch_channel'] },
      {
        op: 'ReduceMean',
        inputs: ['pitch_channel'],
        outputs: ['pitch'],
        attributes: { axes: attr.ints([1, 2]), keepdims: attr.int(1) },
      },
      { op: 'Mul', inputs: ['pitch', 'language_shift'], outputs: ['language_logits'] },
      { op: 'Equal', inputs: ['input_ids', 'sot_id'], outputs: ['is_sot_bool'] },
      { op: 'Cast', inputs: ['is_sot_bool'], outputs: ['is_sot'], attributes: { to: attr.int(1) } },
      { op: 'Unsqueeze', inputs: ['is_sot', 'axis_2'], outputs: ['is_sot_3d'] },
      { op: 'Mul', inputs: ['language_logits', 'is_sot_3d'], outputs: ['language_term'] },
      { op: 'Add', inputs: ['shifted', 'language_term'], outputs: ['with_language'] },
      // Translation: after <|notimestamps|>, when <|translate|> is anywhere in this step's input.
      { op: 'Equal', inputs: ['input_ids', 'translate_id'], outputs: ['is_translate_bool'] },
      { op: 'Cast', inputs: ['is_translate_bool'], outputs: ['is_translate'], attributes: { to: attr.int(1) } },
      {
        op: 'ReduceMax',
        inputs: ['is_translate'],
        outputs: ['translating'],
        attributes: { axes: attr.ints([1]), keepdims: attr.int(1) },
      },
      { op: 'Equal', inputs: ['input_ids', 'notimestamps_id'], outputs: ['is_nt_bool'] },
      { op: 'Cast', inputs: ['is_nt_bool'], outputs: ['is_nt'], attributes: { to: attr.int(1) } },
      { op: 'Mul', inputs: ['is_nt', 'translating'], outputs: ['steer'] },
      { op: 'Unsqueeze', inputs: ['steer', 'axis_2'], outputs: ['steer_3d'] },
      { op: 'Mul', inputs: ['steer_3d', 'translate_shift'], outputs: ['translate_term'] },
      { op: 'Add', inputs: ['with_language', 'translate_term'], outputs: ['logits'] },
    ],
  };
}

/**
 * [B, 80, 3000] -> [B, 1500, 4]: channel 0 is the pitch (tanh(PITCH_GAIN x (mean of the upper 40
 * log-mel bins - mean of the lower 40)), the same at every position); channels 1-3 are pairs of
 * frames through a seeded linear map and tanh.
 */
function encoderGraph(seed: number): ModelSpec {
  const rand = random(seed);
  const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  return {
    graphName: 'frame_pair_encoder',
    inputs: [{ name: 'input_features', type: 'float32', dims: ['batch_size', MELS, FRAMES] }],
    outputs: [{ name: 'last_hidden_state', type: 'float32', dims: ['batch_size', POSITIONS, HIDDEN] }],
    initializers: [
      tensor('pairs_shape', BigInt64Array.of(0n, BigInt(POSITIONS), BigInt(2 * MELS)), [3]),
      tensor('w', uniform(2 * MELS * (HIDDEN - 1), 0.2), [2 * MELS, HIDDEN - 1]),
      tensor('b', uniform(HIDDEN - 1, 0.1), [HIDDEN - 1]),
      tensor('low_start', BigInt64Array.of(0n), [1]),
      tensor('middle', BigInt64Array.of(BigInt(MELS / 2)), [1]),
      tensor('high_end', BigInt64Array.of(BigInt(MELS)), [1]),
      tensor('mel_axis', BigInt64Array.of(1n), [1]),
      tensor('pitch_gain', Float32Array.of(PITCH_GAIN), []),
      tensor('every_position', new Float32Array(POSITIONS).fill(1), [1, POSITIONS, 1]),
    ],
    nodes: [
      { op: 'Slice', inputs: ['input_features', 'middle', 'high_end', 'mel_axis'], outputs: ['high_bins'] },
      { op: 'Slice', inputs: ['input_features', 'low_start', 'middle', 'mel_axis'], outputs: ['low_bins'] },
      { op: 'ReduceMean', inputs: ['high_bins'], outputs: ['high'], attributes: { axes: attr.ints([1, 2]), keepdims: attr.int(1) } },
      { op: 'ReduceMean', inputs: ['low_bins'], outputs: ['low'], attributes: { axes: attr.ints([1, 2]), keepdims: attr.int(1) } },
      { op: 'Sub', inputs: ['high', 'low'], outputs: ['tilt'] },
      { op: 'Mul', inputs: ['tilt', 'pitch_gain'], outputs: ['tilt_gained'] },
      { op: 'Tanh', inputs: ['tilt_gained'], outputs: ['pitch'] },
      { op: 'Mul', inputs: ['pitch', 'every_position'], outputs: ['pitch_channel'] },
      { op: 'Transpose', inputs: ['input_features'], outputs: ['frames'], attributes: { perm: attr.ints([0, 2, 1]) } },
      { op: 'Reshape', inputs: ['frames', 'pairs_shape'], outputs: ['pairs'] },
      { op: 'MatMul', inputs: ['pairs', 'w'], outputs: ['projected'] },
      { op: 'Add', inputs: ['projected', 'b'], outputs: ['pre'] },
      { op: 'Tanh', inputs: ['pre'], outputs: ['features'] },
      { op: 'Concat', inputs: ['pitch_channel', 'features'], outputs: ['last_hidden_state'], attributes: { axis: attr.int(2) } },
    ],
  };
}

/** Byte-level BPE without merges: only decoding matters, and every piece the model emits is one token. */
function tokenizerJson(vocab: Record<string, number>) {
  // Timestamps are added but not special tokens, as in openai/whisper-*: the ASR decoder tells them apart by id.
  const added = (content: string, special: boolean) => ({
    id: vocab[content]!,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      ...SPECIALS.map((t) => added(t, true)),
      ...Array.from({ length: TIMESTAMPS }, (_, i) => added(timestampToken(i), false)),
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
}

function configs(vocab: Record<string, number>) {
  const id = (t: string) => vocab[t]!;
  const vocabSize = Object.keys(vocab).length;
  const eot = id('<|endoftext|>');
  const sot = id('<|startoftranscript|>');
  const ids = {
    decoder_start_token_id: sot,
    eos_token_id: eot,
    bos_token_id: eot,
    pad_token_id: eot,
    suppress_tokens: [],
    begin_suppress_tokens: [],
  };
  const config = {
    model_type: 'whisper',
    architectures: ['WhisperForConditionalGeneration'],
    is_encoder_decoder: true,
    vocab_size: vocabSize,
    d_model: HIDDEN,
    encoder_layers: 1,
    decoder_layers: 1,
    encoder_attention_heads: 1,
    decoder_attention_heads: 1,
    num_mel_bins: MELS,
    max_source_positions: POSITIONS,
    max_target_positions: 448,
    ...ids,
  };
  const generation = {
    ...ids,
    max_length: 448,
    is_multilingual: true,
    no_timestamps_token_id: id('<|notimestamps|>'),
    lang_to_id: Object.fromEntries(LANGUAGES.map((l) => [`<|${l}|>`, id(`<|${l}|>`)])),
    task_to_id: { transcribe: id('<|transcribe|>'), translate: id('<|translate|>') },
  };
  const preprocessor = {
    feature_extractor_type: 'WhisperFeatureExtractor',
    processor_class: 'WhisperProcessor',
    feature_size: MELS,
    hop_length: 160,
    n_fft: 400,
    n_samples: 480_000,
    nb_max_frames: FRAMES,
    chunk_length: 30,
    sampling_rate: 16_000,
    padding_value: 0,
    padding_side: 'right',
    return_attention_mask: false,
  };
  const tokenizer = tokenizerJson(vocab);
  const tokenizerConfig = {
    tokenizer_class: 'WhisperTokenizer',
    bos_token: '<|endoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    model_max_length: 448,
    clean_up_tokenization_spaces: true,
  };
  return { config, generation, preprocessor, tokenizer, tokenizerConfig };
}

/** Writes the model folder `dir` (created). Same seed, same bytes. */
export async function writeWhisperFixture(dir: string, seed = 1): Promise<WhisperFixture> {
  const vocab = vocabulary();
  const id = (t: string) => {
    const i = vocab[t];
    if (i === undefined) throw new Error(`no token ${t}`);
    return i;
  };
  const next = successors(id);
  const c = configs(vocab);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify(c.config, null, 2),
    'generation_config.json': JSON.stringify(c.generation, null, 2),
    'preprocessor_config.json': JSON.stringify(c.preprocessor, null, 2),
    'tokenizer.json': JSON.stringify(c.tokenizer),
    'tokenizer_config.json': JSON.stringify(c.tokenizerConfig, null, 2),
    'onnx/encoder_model.onnx': encodeModel(encoderGraph(seed)),
    'onnx/decoder_model_merged.onnx': encodeModel(decoderGraph(Object.keys(vocab).length, next, id)),
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  const follow = (from: string) => {
    const path: number[] = [];
    for (let token = id(from); token !== id('<|endoftext|>');) path.push((token = next.get(token) ?? id('<|endoftext|>')));
    return path;
  };
  return {
    dir,
    expectedText: 'hello world',
    expectedSegments: [{ start: 0, end: 1, text: ' hello world' }],
    expectedTranslation: 'hi there',
    expectedTranslationSegments: [{ start: 0.02, end: 1, text: ' hi there' }],
    languages: [...LANGUAGES],
    paths: { noTimestamps: follow('<|notimestamps|>'), timestamps: follow('<|transcribe|>') },
    vocab,
  };
}

/** A Lathe manifest serving the fixture through Transformers.js pipeline workers. */
export function whisperManifest(fixture: Pick<WhisperFixture, 'dir'>): object {
  return {
    task: 'automatic-speech-recognition',
    runtime: 'transformers',
    description: 'Bigram Whisper-layout test fixture: always transcribes "hello world".',
    license: 'MIT',
    source: { huggingface: fixture.dir, file: 'onnx/encoder_model.onnx' },
    // Not checked for this runtime; the schema wants at least one of each.
    inputs: [{ name: 'audio', datatype: 'FP32', shape: [-1] }],
    outputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }],
    parameters: { dtype: 'fp32' },
    instances: 1,
    timeoutMs: 120_000,
  };
}

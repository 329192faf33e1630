/**
 * A tiny VITS-layout speech synthesizer, in the folder layout Transformers.js 4 loads for
 * `text-to-speech` (as `Xenova/mms-tts-*` ships it), whose audio is known by construction.
 *
 * - `config.json`: `model_type` "vits" and the fields of facebook/mms-tts-* Lathe and
 *   Transformers.js read (`sampling_rate`, `vocab_size`, `pad_token_id`, speaker count).
 * - `tokenizer.json`: as Transformers.js' VITS converter writes it: lowercase, drop characters
 *   outside the vocabulary, strip, put the blank (the pad token) between characters and at both
 *   ends, split into characters, a plain vocabulary model; `tokenizer_config.json` names
 *   `VitsTokenizer`.
 * - `onnx/model.onnx`: Optimum's `text-to-audio` export signature for VITS: `input_ids`,
 *   `attention_mask` in; `waveform` [batch, samples] and `spectrogram` out.
 *
 * The graph turns each token into SEGMENT samples of a sine of the token's own frequency (the blank
 * into silence, padding into silence), so a test recovers the text from any decoding of the audio
 * by cutting it at the silences and reading each tone's frequency with a DFT (`readTones`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attr, encodeModel, type ModelSpec, type NodeSpec, tensor } from '../../src/onnx/onnx-builder.js';
import { random, randomFloats } from './models.js';

export const VITS_RATE = 16_000;
/** Samples per token: 100 ms (at speed 2, a tempo change keeps 50 ms silences between tones). */
export const SEGMENT = 1600;
const AMPLITUDE = 0.5;
const BLANK = '_';
/** The characters the model speaks (after lowercasing), each a tone; the blank is silence. */
const ALPHABET = [..." '-abcdefghijklmnopqrstuvwxyz0123456789"];
const LOWEST_HZ = 300;
const STEP_HZ = 100;

export interface VitsFixture {
  dir: string;
  /** Token id of every vocabulary entry. */
  vocab: Readonly<Record<string, number>>;
  /** The frequency each spoken character is rendered at. */
  frequencies: ReadonlyMap<string, number>;
}

function vocabulary(): Record<string, number> {
  return Object.fromEntries([BLANK, ...ALPHABET, '<unk>'].map((t, i) => [t, i]));
}

function frequencyOf(index: number): number {
  return LOWEST_HZ + STEP_HZ * index;
}

/** [vocab, SEGMENT]: row i is token i's tone (the blank's and <unk>'s rows are silent). */
function toneTable(vocab: Record<string, number>): Float32Array {
  const size = Object.keys(vocab).length;
  const table = new Float32Array(size * SEGMENT);
  ALPHABET.forEach((ch, i) => {
    const row = vocab[ch]!;
    const hz = frequencyOf(i);
    for (let s = 0; s < SEGMENT; s++) table[row * SEGMENT + s] = AMPLITUDE * Math.sin((2 * Math.PI * hz * s) / VITS_RATE);
  });
  return table;
}

/** Samples per frame of the benchmark variant's vocoder-sized work, and its hidden width. */
const FRAME = 400;
const FRAME_HIDDEN = 1024;

/**
 * The benchmark variant's stand-in for a real VITS's flow and vocoder compute: `layers` MLPs over
 * 25 ms frames of the waveform (400 -> 1024 -> 400, GELU-free: MatMul, Relu, MatMul), whose result is
 * added times zero, so the audio is the same as the plain fixture's while ONNX Runtime does the work.
 */
function vocoderWork(layers: number, seed: number) {
  const rand = random(seed);
  const initializers = [tensor('frames_shape', BigInt64Array.of(0n, -1n, BigInt(FRAME)), [3]), tensor('zero', Float32Array.of(0), [])];
  const nodes: NodeSpec[] = [{ op: 'Reshape', inputs: ['flat_wave', 'frames_shape'], outputs: ['work_0'] }];
  for (let l = 0; l < layers; l++) {
    initializers.push(
      tensor(`up_${l}`, randomFloats(FRAME * FRAME_HIDDEN, rand, 0.03), [FRAME, FRAME_HIDDEN]),
      tensor(`down_${l}`, randomFloats(FRAME_HIDDEN * FRAME, rand, 0.03), [FRAME_HIDDEN, FRAME]),
    );
    nodes.push(
      { op: 'MatMul', inputs: [`work_${l}`, `up_${l}`], outputs: [`hidden_${l}`] },
      { op: 'Relu', inputs: [`hidden_${l}`], outputs: [`active_${l}`] },
      { op: 'MatMul', inputs: [`active_${l}`, `down_${l}`], outputs: [`work_${l + 1}`] },
    );
  }
  nodes.push(
    { op: 'Shape', inputs: ['flat_wave'], outputs: ['wave_shape'] },
    { op: 'Reshape', inputs: [`work_${layers}`, 'wave_shape'], outputs: ['work_wave'] },
    { op: 'Mul', inputs: ['work_wave', 'zero'], outputs: ['nothing'] },
    { op: 'Add', inputs: ['flat_wave', 'nothing'], outputs: ['waveform'] },
  );
  return { initializers, nodes };
}

function synthesizerGraph(vocab: Record<string, number>, workLayers: number): ModelSpec {
  const size = Object.keys(vocab).length;
  const work = workLayers > 0 ? vocoderWork(workLayers, 5) : undefined;
  return {
    graphName: 'tone_per_character_vits',
    inputs: [
      { name: 'input_ids', type: 'int64', dims: ['text_batch_size', 'sequence_length'] },
      { name: 'attention_mask', type: 'int64', dims: ['text_batch_size', 'sequence_length'] },
    ],
    outputs: [
      { name: 'waveform', type: 'float32', dims: ['text_batch_size', 'n_samples'] },
      { name: 'spectrogram', type: 'float32', dims: ['text_batch_size', 1, 'num_bins'] },
    ],
    initializers: [
      tensor('tones', toneTable(vocab), [size, SEGMENT]),
      tensor('axis_2', BigInt64Array.of(2n), [1]),
      tensor('axis_1', BigInt64Array.of(1n), [1]),
      tensor('flat', BigInt64Array.of(0n, -1n), [2]),
      ...(work?.initializers ?? []),
    ],
    nodes: [
      { op: 'Gather', inputs: ['tones', 'input_ids'], outputs: ['segments'] },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask'], attributes: { to: attr.int(1) } },
      { op: 'Unsqueeze', inputs: ['mask', 'axis_2'], outputs: ['mask_3d'] },
      { op: 'Mul', inputs: ['segments', 'mask_3d'], outputs: ['masked'] },
      { op: 'Reshape', inputs: ['masked', 'flat'], outputs: [work ? 'flat_wave' : 'waveform'] },
      { op: 'Unsqueeze', inputs: ['mask', 'axis_1'], outputs: ['spectrogram'] },
      ...(work?.nodes ?? []),
    ],
  };
}

/** tokenizer.json as Transformers.js' VITS converter writes it for a model with `normalize` and `add_blank`. */
function tokenizerJson(vocab: Record<string, number>) {
  const chars = Object.keys(vocab).filter((t) => t.length === 1);
  const escaped = chars.join('').replace('-', '\\-').replace(']', '\\]');
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: vocab['<unk>'], content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Lowercase' },
        { type: 'Replace', pattern: { Regex: `[^${escaped}]` }, content: '' },
        { type: 'Strip', strip_left: true, strip_right: true },
        { type: 'Replace', pattern: { Regex: '(?=.)|(?<!^)$' }, content: BLANK },
      ],
    },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: null,
    model: { vocab },
  };
}

/**
 * Writes the model folder `dir` (created). `workLayers` > 0 adds vocoder-sized compute that leaves
 * the audio unchanged (see vocoderWork), for benchmarks; each layer is about 3.3 MB of weights and
 * 33 M multiply-adds per second of audio.
 */
export async function writeVitsFixture(dir: string, options: { workLayers?: number } = {}): Promise<VitsFixture> {
  const vocab = vocabulary();
  const config = {
    architectures: ['VitsModel'],
    model_type: 'vits',
    sampling_rate: VITS_RATE,
    vocab_size: Object.keys(vocab).length,
    pad_token_id: vocab[BLANK],
    num_speakers: 1,
    speaking_rate: 1.0,
    noise_scale: 0.667,
    noise_scale_duration: 0.8,
    hidden_size: 192,
    transformers_version: '4.33.0.dev0',
  };
  const tokenizerConfig = {
    tokenizer_class: 'VitsTokenizer',
    add_blank: true,
    normalize: true,
    phonemize: false,
    is_uroman: false,
    language: 'eng',
    pad_token: BLANK,
    unk_token: '<unk>',
    model_max_length: 1_000_000_000,
    clean_up_tokenization_spaces: true,
  };
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'config.json': JSON.stringify(config, null, 2),
    'tokenizer.json': JSON.stringify(tokenizerJson(vocab)),
    'tokenizer_config.json': JSON.stringify(tokenizerConfig, null, 2),
    'onnx/model.onnx': encodeModel(synthesizerGraph(vocab, options.workLayers ?? 0)),
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { dir, vocab, frequencies: new Map(ALPHABET.map((ch, i) => [ch, frequencyOf(i)])) };
}

/** What the model says for `text`: its characters after the tokenizer's normalization. */
export function spokenText(text: string): string {
  return [...text.toLowerCase()]
    .filter((ch) => ALPHABET.includes(ch))
    .join('')
    .trim();
}

/** A Lathe manifest serving the fixture through Transformers.js pipeline workers. */
export function vitsManifest(fixture: Pick<VitsFixture, 'dir'>, parameters: Record<string, unknown> = {}): object {
  return {
    task: 'text-to-speech',
    runtime: 'transformers',
    description: 'VITS-layout test fixture: one tone per character.',
    license: 'MIT',
    source: { huggingface: fixture.dir, file: 'onnx/model.onnx' },
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }],
    outputs: [{ name: 'waveform', datatype: 'FP32', shape: [-1] }],
    parameters: { dtype: 'fp32', ...parameters },
    instances: 1,
    timeoutMs: 60_000,
  };
}

/**
 * The characters of audio the fixture spoke, read back: the audio is cut into sounding runs (at
 * least `minRunSeconds` long) at its silences, and each run's tone is the strongest frequency of a
 * DFT over its middle half, matched to the nearest character's frequency.
 */
export function readTones(samples: Float32Array, rate: number, minRunSeconds: number): string {
  const frame = Math.max(1, Math.round(rate * 0.005));
  const loud = (start: number) => {
    let peak = 0;
    for (let i = start; i < Math.min(samples.length, start + frame); i++) peak = Math.max(peak, Math.abs(samples[i]!));
    return peak > 0.1;
  };
  const runs: Array<[number, number]> = [];
  let runStart = -1;
  for (let at = 0; at < samples.length; at += frame) {
    if (loud(at)) {
      if (runStart < 0) runStart = at;
    } else if (runStart >= 0) {
      runs.push([runStart, at]);
      runStart = -1;
    }
  }
  if (runStart >= 0) runs.push([runStart, samples.length]);
  const byFrequency = [...ALPHABET.entries()].map(([i, ch]) => ({ ch, hz: frequencyOf(i) }));
  return runs
    .filter(([a, b]) => b - a >= minRunSeconds * rate)
    .map(([a, b]) => {
      const quarter = Math.floor((b - a) / 4);
      const hz = peakFrequency(samples.subarray(a + quarter, b - quarter), rate);
      return byFrequency.reduce((best, c) => (Math.abs(c.hz - hz) < Math.abs(best.hz - hz) ? c : best)).ch;
    })
    .join('');
}

/** The frequency of the largest DFT magnitude between 100 Hz and 8 kHz, on a 10 Hz grid. */
function peakFrequency(x: Float32Array, rate: number): number {
  const power = (hz: number) => {
    let re = 0;
    let im = 0;
    const w = (2 * Math.PI * hz) / rate;
    for (let i = 0; i < x.length; i++) {
      re += x[i]! * Math.cos(w * i);
      im -= x[i]! * Math.sin(w * i);
    }
    return re * re + im * im;
  };
  let best = { hz: 0, power: -1 };
  for (let hz = 100; hz <= 8000; hz += 10) {
    const p = power(hz);
    if (p > best.power) best = { hz, power: p };
  }
  return best.hz;
}

/**
 * Speech segments from Silero VAD's per-window probabilities, with the semantics of silero-vad's
 * own get_speech_timestamps (src/silero_vad/utils_vad.py): hysteresis between threshold and
 * neg_threshold, min_silence before a segment ends, min_speech to keep it, max_speech splits at
 * the longest (or last) silence seen, then speech_pad on both sides, halving the gap when two
 * segments are closer than twice the pad.
 */
import type { ScanSpec } from '../contracts/scan-spec.js';

export interface VadOptions {
  threshold: number;
  /** Default threshold - 0.15 (at least 0.01). */
  negThreshold?: number;
  minSpeechDurationMs: number;
  minSilenceDurationMs: number;
  speechPadMs: number;
  maxSpeechDurationS: number;
  /** Silences longer than this are candidate cut points when a segment reaches maxSpeechDurationS. */
  minSilenceAtMaxSpeechMs: number;
  /** Cut an over-long segment at its longest candidate silence (true) or its last one. */
  useMaxPossibleSilenceAtMaxSpeech: boolean;
  sampleRate: number;
  windowSamples: number;
  /** Length of the audio the probabilities came from; default windows × windowSamples. */
  totalSamples?: number;
}

export interface SpeechSegment {
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  /** Mean speech probability over the windows the segment was detected in (before padding). */
  confidence: number;
}

export const VAD_DEFAULTS: Readonly<VadOptions> = Object.freeze({
  threshold: 0.5,
  minSpeechDurationMs: 250,
  minSilenceDurationMs: 100,
  speechPadMs: 30,
  maxSpeechDurationS: Infinity,
  minSilenceAtMaxSpeechMs: 98,
  useMaxPossibleSilenceAtMaxSpeech: true,
  sampleRate: 16_000,
  windowSamples: 512,
});

/** Silero v5 at 16 kHz as a scan (see ModelRunner.scan); the same object fits a manifest's `stream`. */
export const SILERO_SCAN: ScanSpec = Object.freeze({
  input: 'input',
  windowSize: 512,
  contextSize: 64,
  state: [{ input: 'state', output: 'stateN', shape: [2, 1, 128] }],
  constants: [{ name: 'sr', datatype: 'INT64', shape: [], value: [16_000] }],
  output: 'output',
}) as ScanSpec;

interface Span {
  start: number;
  end: number;
}

export function speechSegments(probs: Float32Array | readonly number[], options: Partial<VadOptions> = {}): SpeechSegment[] {
  // An option given as undefined keeps its default.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o: VadOptions = { ...VAD_DEFAULTS, ...given };
  const total = o.totalSamples ?? probs.length * o.windowSamples;
  const spans = detect(probs, o, total);
  const confidences = spans.map((s) => meanProbability(probs, s, o.windowSamples));
  pad(spans, o, total);
  return spans.map((s, i) => ({ start: s.start / o.sampleRate, end: s.end / o.sampleRate, confidence: confidences[i]! }));
}

/** get_speech_timestamps' state machine, in samples, before padding. */
function detect(probs: Float32Array | readonly number[], o: VadOptions, total: number): Span[] {
  const w = o.windowSamples;
  const sr = o.sampleRate;
  const minSpeech = (sr * o.minSpeechDurationMs) / 1000;
  const padSamples = (sr * o.speechPadMs) / 1000;
  const maxSpeech = sr * o.maxSpeechDurationS - w - 2 * padSamples;
  const minSilence = (sr * o.minSilenceDurationMs) / 1000;
  const minSilenceAtMax = (sr * o.minSilenceAtMaxSpeechMs) / 1000;
  const negThreshold = o.negThreshold ?? Math.max(o.threshold - 0.15, 0.01);
  const speeches: Span[] = [];
  let triggered = false;
  let current: Partial<Span> = {};
  let tempEnd = 0;
  let prevEnd = 0;
  let nextStart = 0;
  let possibleEnds: Array<[end: number, silence: number]> = [];
  for (let i = 0; i < probs.length; i += 1) {
    const p = probs[i]!;
    const at = w * i;
    if (p >= o.threshold && tempEnd) {
      const silence = at - tempEnd;
      if (silence > minSilenceAtMax) possibleEnds.push([tempEnd, silence]);
      tempEnd = 0;
      if (nextStart < prevEnd) nextStart = at;
    }
    if (p >= o.threshold && !triggered) {
      triggered = true;
      current.start = at;
      continue;
    }
    if (triggered && at - current.start! > maxSpeech) {
      if (possibleEnds.length > 0) {
        let silence: number;
        [prevEnd, silence] = o.useMaxPossibleSilenceAtMaxSpeech
          ? possibleEnds.reduce((best, e) => (e[1] > best[1] ? e : best))
          : possibleEnds[possibleEnds.length - 1]!;
        speeches.push({ start: current.start!, end: prevEnd });
        current = {};
        nextStart = prevEnd + silence;
        if (nextStart < prevEnd + at) current.start = nextStart;
        else triggered = false;
        possibleEnds = possibleEnds.filter(([end]) => end > nextStart);
        prevEnd = nextStart = tempEnd = 0;
      } else {
        speeches.push({ start: current.start!, end: at });
        current = {};
        prevEnd = nextStart = tempEnd = 0;
        triggered = false;
        possibleEnds = [];
        continue;
      }
    }
    if (p < negThreshold && triggered) {
      if (!tempEnd) tempEnd = at;
      if (at - tempEnd < minSilence) continue;
      if (tempEnd - current.start! > minSpeech) speeches.push({ start: current.start!, end: tempEnd });
      current = {};
      prevEnd = nextStart = tempEnd = 0;
      triggered = false;
      possibleEnds = [];
    }
  }
  if (current.start !== undefined && total - current.start > minSpeech) speeches.push({ start: current.start, end: total });
  return speeches;
}

/** speech_pad on both sides; a gap shorter than two pads is split between its neighbours. */
function pad(speeches: Span[], o: VadOptions, total: number): void {
  const padSamples = (o.sampleRate * o.speechPadMs) / 1000;
  for (let i = 0; i < speeches.length; i += 1) {
    const speech = speeches[i]!;
    if (i === 0) speech.start = Math.trunc(Math.max(0, speech.start - padSamples));
    if (i !== speeches.length - 1) {
      const next = speeches[i + 1]!;
      const silence = next.start - speech.end;
      if (silence < 2 * padSamples) {
        speech.end += Math.trunc(Math.floor(silence / 2));
        next.start = Math.trunc(Math.max(0, next.start - Math.floor(silence / 2)));
      } else {
        speech.end = Math.trunc(Math.min(total, speech.end + padSamples));
        next.start = Math.trunc(Math.max(0, next.start - padSamples));
      }
    } else {
      speech.end = Math.trunc(Math.min(total, speech.end + padSamples));
    }
  }
}

function meanProbability(probs: Float32Array | readonly number[], span: Span, windowSamples: number): number {
  const first = Math.floor(span.start / windowSamples);
  const last = Math.min(probs.length, Math.ceil(span.end / windowSamples));
  let sum = 0;
  for (let i = first; i < last; i += 1) sum += probs[i]!;
  return last > first ? sum / (last - first) : 0;
}

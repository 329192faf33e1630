import type { NamedTensors, NumericData, Tensor } from '../contracts/tensor.js';
import { fp16BitsToFloat32 } from '../oip/fp16.js';
import type { Search } from './seq2seq-search.js';

/**
 * An encoder-decoder export in the Hugging Face (Optimum) layout, as the loop sees it: the encoder,
 * and the merged decoder whose first call (use_cache_branch false, empty past) computes the
 * cross-attention cache from encoder_hidden_states, and whose later calls take one token per row
 * with the caches.
 */
export interface Seq2SeqModel {
  layers: number;
  /** Past shapes: [rows, heads, length, headDim] of the decoder's self-attention and of the cross-attention. */
  decoderHeads: number;
  decoderHeadDim: number;
  encoderHeads: number;
  encoderHeadDim: number;
  datatype: 'FP32' | 'FP16';
  /** Whether the decoder graph declares use_cache_branch (merged exports do). */
  useCacheBranch: boolean;
  /** Whether the decoder graph declares encoder_attention_mask. */
  encoderMask: boolean;
  padTokenId: number;
  /** input_ids, attention_mask [rows, columns] -> last_hidden_state [rows, columns, hidden]. */
  encode(feeds: NamedTensors): Promise<Tensor>;
  decode(feeds: NamedTensors, outputs: string[]): Promise<NamedTensors>;
}

export interface Seq2SeqSequence {
  id: number;
  source: readonly number[];
  /** What the decoder starts from (decoder_start_token_id). */
  decoderPrompt: readonly number[];
  search: Search;
  /** Rows the search may hold at once (its beams): what admission reserves. */
  width: number;
  resolve(tokens: number[]): void;
  reject(reason: Error): void;
}

export interface Seq2SeqLimits {
  /** Decoder rows (beams count one each) that run at once over every cohort. */
  maxRows: number;
  /** Rows that may wait beyond those. */
  maxWaitingRows: number;
}

export interface Seq2SeqStats {
  running: number;
  waiting: number;
  cohorts: number;
  encodes: number;
  steps: number;
  rows: number;
  maxBatch: number;
}

interface Member {
  sequence: Seq2SeqSequence;
  rows: number;
}

/** Sequences that started together: their decoder caches have one length, so they share every step. */
interface Cohort {
  members: Member[];
  /** Decoder tokens in the self-attention cache. */
  length: number;
  selfKv: NumericData[];
  crossKv: NumericData[];
  hidden: Tensor;
  mask: BigInt64Array;
  sourceColumns: number;
  next: number[];
}

const selfName = (kind: 'past_key_values' | 'present', i: number, part: 'key' | 'value') => `${kind}.${i}.decoder.${part}`;
const crossName = (kind: 'past_key_values' | 'present', i: number, part: 'key' | 'value') => `${kind}.${i}.encoder.${part}`;

/**
 * Continuous batching for encoder-decoder models. Optimum's merged decoders take no decoder
 * attention mask and read positions from the cache length, so rows of different decoder lengths
 * cannot share a step: sequences admitted together form a cohort that steps as one batch (their
 * sources right-padded, encoder_attention_mask hiding the padding); cohorts take turns step by
 * step, sequences leave their cohort when their search ends, and waiting ones start a new cohort
 * (encoder once, then the decoder's first step) between two steps.
 */
export class Seq2SeqEngine {
  private cohorts: Cohort[] = [];
  private readonly waiting: Seq2SeqSequence[] = [];
  private readonly cancelled = new Set<number>();
  private loop: Promise<void> | undefined;
  private readonly counters = { encodes: 0, steps: 0, rows: 0, maxBatch: 0 };

  constructor(
    private readonly model: Seq2SeqModel,
    private readonly limits: Seq2SeqLimits,
  ) {}

  /** Whether `width` more rows would pass what runs plus what may wait. */
  full(width: number): boolean {
    return this.runningRows() + this.waitingRows() + width > this.limits.maxRows + this.limits.maxWaitingRows;
  }

  submit(sequence: Seq2SeqSequence): void {
    if (sequence.width > this.limits.maxRows)
      throw new RangeError(`${sequence.width} rows exceed the ${this.limits.maxRows} that run at once`);
    this.waiting.push(sequence);
    this.loop ??= this.drive().finally(() => (this.loop = undefined));
  }

  /** Ends a sequence before its cohort's next step; its reject() is called. */
  cancel(id: number): void {
    const index = this.waiting.findIndex((s) => s.id === id);
    if (index >= 0) this.waiting.splice(index, 1)[0]!.reject(new Error('cancelled'));
    else this.cancelled.add(id);
  }

  stats(): Seq2SeqStats {
    return { running: this.runningRows(), waiting: this.waitingRows(), cohorts: this.cohorts.length, ...this.counters };
  }

  private runningRows(): number {
    return this.cohorts.reduce((sum, c) => sum + c.members.reduce((n, m) => n + m.sequence.width, 0), 0);
  }

  private waitingRows(): number {
    return this.waiting.reduce((sum, s) => sum + s.width, 0);
  }

  private async drive(): Promise<void> {
    while (this.cohorts.length > 0 || this.waiting.length > 0) {
      // As in DecodeEngine: let the worker read new calls and cancels between two model runs.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        await this.iterate();
      } catch (error) {
        this.failAll(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  private async iterate(): Promise<void> {
    const admitted: Seq2SeqSequence[] = [];
    let rows = this.runningRows();
    while (this.waiting.length > 0 && rows + this.waiting[0]!.width <= this.limits.maxRows) {
      const next = this.waiting.shift()!;
      rows += next.width;
      admitted.push(next);
    }
    // One cohort per decoder prompt length (in practice every sequence starts from one token).
    const byPrompt = new Map<number, Seq2SeqSequence[]>();
    for (const s of admitted) byPrompt.set(s.decoderPrompt.length, [...(byPrompt.get(s.decoderPrompt.length) ?? []), s]);
    const fresh: Cohort[] = [];
    for (const group of byPrompt.values()) {
      const cohort = await this.start(group);
      if (cohort) fresh.push(cohort);
    }
    const stepping = this.cohorts;
    this.cohorts = [...stepping, ...fresh];
    for (const cohort of stepping) await this.step(cohort);
    this.cohorts = this.cohorts.filter((c) => c.members.length > 0);
  }

  /** Encodes the sources as one padded batch and runs the decoder's first step. */
  private async start(sequences: Seq2SeqSequence[]): Promise<Cohort | undefined> {
    const m = this.model;
    const n = sequences.length;
    const columns = Math.max(...sequences.map((s) => s.source.length));
    const ids = new BigInt64Array(n * columns).fill(BigInt(m.padTokenId));
    const mask = new BigInt64Array(n * columns);
    sequences.forEach((s, r) => {
      s.source.forEach((token, c) => (ids[r * columns + c] = BigInt(token)));
      mask.fill(1n, r * columns, r * columns + s.source.length);
    });
    const hidden = await m.encode({
      input_ids: { datatype: 'INT64', shape: [n, columns], data: ids },
      attention_mask: { datatype: 'INT64', shape: [n, columns], data: mask },
    });
    this.counters.encodes += 1;
    const promptLength = sequences[0]!.decoderPrompt.length;
    const prompt = new BigInt64Array(n * promptLength);
    sequences.forEach((s, r) => s.decoderPrompt.forEach((token, c) => (prompt[r * promptLength + c] = BigInt(token))));
    const empty = (heads: number, dim: number): Tensor => ({
      datatype: m.datatype,
      shape: [n, heads, 0, dim],
      data: allocate(m.datatype, 0),
    });
    const feeds: NamedTensors = { input_ids: { datatype: 'INT64', shape: [n, promptLength], data: prompt }, encoder_hidden_states: hidden };
    if (m.encoderMask) feeds.encoder_attention_mask = { datatype: 'INT64', shape: [n, columns], data: mask };
    if (m.useCacheBranch) feeds.use_cache_branch = { datatype: 'BOOL', shape: [1], data: Uint8Array.of(0) };
    const outputs = ['logits'];
    for (let i = 0; i < m.layers; i++) {
      for (const part of ['key', 'value'] as const) {
        feeds[selfName('past_key_values', i, part)] = empty(m.decoderHeads, m.decoderHeadDim);
        feeds[crossName('past_key_values', i, part)] = empty(m.encoderHeads, m.encoderHeadDim);
        outputs.push(selfName('present', i, part), crossName('present', i, part));
      }
    }
    const result = await m.decode(feeds, outputs);
    const cohort: Cohort = {
      members: sequences.map((sequence) => ({ sequence, rows: 1 })),
      length: promptLength,
      selfKv: this.caches(result, selfName),
      crossKv: this.caches(result, crossName),
      hidden,
      mask,
      sourceColumns: columns,
      next: [],
    };
    this.choose(cohort, result.logits!);
    return cohort.members.length > 0 ? cohort : undefined;
  }

  /** One decoder step of a cohort with its caches. */
  private async step(cohort: Cohort): Promise<void> {
    this.dropCancelled(cohort);
    if (cohort.members.length === 0) return;
    const m = this.model;
    const n = cohort.next.length;
    const feeds: NamedTensors = {
      input_ids: { datatype: 'INT64', shape: [n, 1], data: BigInt64Array.from(cohort.next, BigInt) },
      encoder_hidden_states: cohort.hidden,
    };
    if (m.encoderMask) feeds.encoder_attention_mask = { datatype: 'INT64', shape: [n, cohort.sourceColumns], data: cohort.mask };
    if (m.useCacheBranch) feeds.use_cache_branch = { datatype: 'BOOL', shape: [1], data: Uint8Array.of(1) };
    const outputs = ['logits'];
    const selfShape = [n, m.decoderHeads, cohort.length, m.decoderHeadDim];
    const crossShape = [n, m.encoderHeads, cohort.sourceColumns, m.encoderHeadDim];
    for (let i = 0; i < m.layers; i++) {
      (['key', 'value'] as const).forEach((part, p) => {
        feeds[selfName('past_key_values', i, part)] = { datatype: m.datatype, shape: selfShape, data: cohort.selfKv[2 * i + p]! };
        feeds[crossName('past_key_values', i, part)] = { datatype: m.datatype, shape: crossShape, data: cohort.crossKv[2 * i + p]! };
        outputs.push(selfName('present', i, part));
      });
    }
    const result = await m.decode(feeds, outputs);
    cohort.selfKv = this.caches(result, selfName);
    cohort.length += 1;
    this.choose(cohort, result.logits!);
  }

  /** Each member's search picks its next rows from its rows of logits; the caches follow the rows chosen. */
  private choose(cohort: Cohort, logits: Tensor): void {
    const [rows, columns, vocab] = logits.shape as [number, number, number];
    this.counters.steps += 1;
    this.counters.rows += rows;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, rows);
    const gather: number[] = [];
    const next: number[] = [];
    const members: Member[] = [];
    let first = 0;
    for (const member of cohort.members) {
      const own = Array.from({ length: member.rows }, (_, r) => logitsRow(logits, ((first + r) * columns + columns - 1) * vocab, vocab));
      const { parents, tokens, done } = member.sequence.search.step(own);
      if (done) member.sequence.resolve(member.sequence.search.result());
      else {
        for (const p of parents) gather.push(first + p);
        next.push(...tokens);
        members.push({ sequence: member.sequence, rows: parents.length });
      }
      first += member.rows;
    }
    cohort.members = members;
    cohort.next = next;
    if (gather.length === rows && gather.every((r, i) => r === i)) return;
    cohort.selfKv = cohort.selfKv.map((data) => gatherRows(data, rows, gather));
    cohort.crossKv = cohort.crossKv.map((data) => gatherRows(data, rows, gather));
    cohort.hidden = {
      ...cohort.hidden,
      shape: [gather.length, ...cohort.hidden.shape.slice(1)],
      data: gatherRows(cohort.hidden.data as NumericData, rows, gather),
    };
    cohort.mask = gatherRows(cohort.mask, rows, gather);
  }

  private dropCancelled(cohort: Cohort): void {
    if (this.cancelled.size === 0) return;
    const keep: number[] = [];
    let first = 0;
    const total = cohort.next.length;
    const members: Member[] = [];
    const next: number[] = [];
    for (const member of cohort.members) {
      if (this.cancelled.delete(member.sequence.id)) member.sequence.reject(new Error('cancelled'));
      else {
        for (let r = 0; r < member.rows; r++) keep.push(first + r);
        next.push(...cohort.next.slice(first, first + member.rows));
        members.push(member);
      }
      first += member.rows;
    }
    if (members.length === cohort.members.length) return;
    cohort.members = members;
    cohort.next = next;
    cohort.selfKv = cohort.selfKv.map((data) => gatherRows(data, total, keep));
    cohort.crossKv = cohort.crossKv.map((data) => gatherRows(data, total, keep));
    cohort.hidden = {
      ...cohort.hidden,
      shape: [keep.length, ...cohort.hidden.shape.slice(1)],
      data: gatherRows(cohort.hidden.data as NumericData, total, keep),
    };
    cohort.mask = gatherRows(cohort.mask, total, keep);
  }

  private caches(result: NamedTensors, name: typeof selfName): NumericData[] {
    const out: NumericData[] = [];
    for (let i = 0; i < this.model.layers; i++)
      for (const part of ['key', 'value'] as const) out.push(result[name('present', i, part)]!.data as NumericData);
    return out;
  }

  private failAll(error: Error): void {
    for (const cohort of this.cohorts) for (const member of cohort.members) member.sequence.reject(error);
    for (const sequence of this.waiting.splice(0)) sequence.reject(error);
    this.cohorts = [];
    this.cancelled.clear();
  }
}

function allocate(datatype: 'FP32' | 'FP16', length: number): Float32Array | Uint16Array {
  return datatype === 'FP16' ? new Uint16Array(length) : new Float32Array(length);
}

/** Rows `rows` (in that order, repeats allowed) of a row-major array of `total` rows. */
export function gatherRows<T extends NumericData>(data: T, total: number, rows: readonly number[]): T {
  const size = data.length / total;
  const out = new (data.constructor as new (length: number) => T)(rows.length * size);
  rows.forEach((r, i) => out.set(data.subarray(r * size, (r + 1) * size) as never, i * size));
  return out;
}

function logitsRow(logits: Tensor, offset: number, vocab: number): Float32Array {
  if (logits.datatype === 'FP32') return (logits.data as Float32Array).subarray(offset, offset + vocab);
  if (logits.datatype === 'FP16') {
    const bits = logits.data as Uint16Array;
    const row = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) row[i] = fp16BitsToFloat32(bits[offset + i]!);
    return row;
  }
  throw new TypeError(`logits of type ${logits.datatype} are not supported`);
}

import type { NamedTensors, Tensor } from '../contracts/tensor.js';
import { fp16BitsToFloat32 } from '../oip/fp16.js';
import {
  bytesPerToken,
  type CacheBlock,
  type CacheLayout,
  KvBatch,
  type LayerCache,
  pastKeyName,
  pastValueName,
  presentKeyName,
  presentValueName,
} from './kv-batch.js';
import { GREEDY_TOKEN, stepKeyValueName } from './last-position-graph.js';

/** A decoder-only model as the decode loop sees it: its cache layout and one forward pass. */
export interface DecoderModel {
  layout: CacheLayout;
  /** Whether the graph takes `position_ids` (Llama, Qwen2 and most exports do). */
  positionIds: boolean;
  /**
   * Whether the graph also outputs each step's own key and value as `step.{i}.key|value`
   * (last-position-graph.ts adds them to exports that build `present` by a Concat): decode steps
   * then fetch those instead of the whole `present` cache (KvBatch's step-column mode). Used only
   * with `positionIds`, since the past the model is given is longer than the sequence.
   */
  stepColumns?: boolean;
  /** Whether the graph also outputs GREEDY_TOKEN (last-position-graph.ts): decode steps whose rows are all greedy fetch it instead of the logits. */
  greedyToken?: boolean;
  /** Runs the graph; `outputs` names what to fetch (logits and every present.{i}.key/value). */
  run(feeds: NamedTensors, outputs: string[]): Promise<NamedTensors>;
}

/** What decides a sequence's tokens: the sampler and the stop rules of one request. */
export interface SequenceSink {
  /**
   * Chooses the token after the sequence's current tokens from `logits` (a view valid only during
   * the call) and says whether the sequence ends with it (EOS, a stop string, its token limit).
   * For a `greedy` request the engine may instead give no logits and the id of the largest (the
   * first on ties), which the sink then takes.
   */
  next(logits: Float32Array | undefined, greedy?: number): { token: number; done: boolean };
  /** Called once when the sequence leaves the engine without finishing: cancelled, or the model failed. */
  abort?(reason: Error): void;
}

export interface SequenceRequest {
  id: number;
  prompt: readonly number[];
  /** Tokens the sequence may add; with the prompt, what its cache may grow to. */
  maxTokens: number;
  sink: SequenceSink;
  /** The sink takes the largest logit and reads nothing else of them (greedy, no penalties, no logprobs). */
  greedy?: boolean;
}

export interface EngineLimits {
  /** Sequences that decode together at most. */
  maxSequences: number;
  /** Cache the batch may hold, in token positions over all rows (padding included). */
  kvBudgetTokens: number;
  /** Prompt tokens (padded, over all rows) one prefill pass may take: bounds the logits a pass returns. */
  prefillChunkTokens: number;
  /** Sequences that may wait beyond those the budget lets run at once (see `full`). */
  maxWaiting: number;
}

export interface EngineStats {
  running: number;
  waiting: number;
  kvBytes: number;
  steps: number;
  prefills: number;
  tokens: number;
  /** Rows over all decode steps (rows / steps is the mean batch). */
  rows: number;
  /** The most rows one decode step has run. */
  maxBatch: number;
  /** Sequences that joined while others were decoding (continuous batching at work). */
  joinedMidBatch: number;
}

interface Running {
  request: SequenceRequest;
  /** The token to feed at the next step (sampled, not yet in the cache). */
  next: number;
  /** Prompt plus generated tokens, counted when the step that sampled them ran. */
  reserve: number;
}

/**
 * Iteration-level ("continuous") batching over one decoder session: between two decode steps,
 * finished and cancelled sequences leave and waiting ones are prefilled and join, so a step runs
 * every sequence that has a token to produce. Rows of different lengths share a step through the
 * left-padded cache (KvBatch), its attention mask and per-row position ids.
 */
export class DecodeEngine {
  private readonly batch: KvBatch;
  private readonly outputNames: string[];
  /** What a decode step fetches: the same as a prefill, or the step's own columns in step-column mode. */
  private readonly stepOutputNames: string[];
  private readonly stepColumns: boolean;
  /** What a decode step of greedy rows only fetches (the greedy token, no logits), or undefined without that output. */
  private readonly greedyOutputNames: string[] | undefined;
  private rows: Running[] = [];
  private readonly waiting: SequenceRequest[] = [];
  /** Admitted sequences whose prompts are being prefilled. */
  private admitting: SequenceRequest[] = [];
  private readonly cancelled = new Set<number>();
  private loop: Promise<void> | undefined;
  private readonly counters = { steps: 0, prefills: 0, tokens: 0, rows: 0, maxBatch: 0, joinedMidBatch: 0 };

  constructor(
    private readonly model: DecoderModel,
    private readonly limits: EngineLimits,
  ) {
    this.stepColumns = model.stepColumns === true && model.positionIds;
    this.batch = new KvBatch(model.layout, this.stepColumns);
    const layers = Array.from({ length: model.layout.layers }, (_, i) => i);
    this.outputNames = ['logits', ...layers.flatMap((i) => [presentKeyName(i), presentValueName(i)])];
    this.stepOutputNames = this.stepColumns
      ? ['logits', ...layers.flatMap((i) => [stepKeyValueName(i, 'key'), stepKeyValueName(i, 'value')])]
      : this.outputNames;
    this.greedyOutputNames = model.greedyToken ? [GREEDY_TOKEN, ...this.stepOutputNames.slice(1)] : undefined;
  }

  /** Whether a request could ever run under these limits (alone, with its whole cache reserved). */
  fits(promptTokens: number, maxTokens: number): boolean {
    return promptTokens + maxTokens <= this.limits.kvBudgetTokens;
  }

  /**
   * Whether `count` more sequences of this size would overflow the engine: the sequences running,
   * being prefilled and waiting already fill what can run at once (the most sequences of this size
   * the budget holds, at most maxSequences) plus the waiting room.
   */
  full(promptTokens: number, maxTokens: number, count = 1): boolean {
    return this.rows.length + this.admitting.length + this.waiting.length + count > this.capacity(promptTokens, maxTokens);
  }

  /** Sequences of this size an idle engine takes: those that run at once plus the waiting room. */
  capacity(promptTokens: number, maxTokens: number): number {
    const runnable = Math.min(this.limits.maxSequences, Math.floor(this.limits.kvBudgetTokens / (promptTokens + maxTokens)));
    return runnable + this.limits.maxWaiting;
  }

  submit(request: SequenceRequest): void {
    if (!this.fits(request.prompt.length, request.maxTokens)) {
      throw new RangeError(`a sequence of ${request.prompt.length} + ${request.maxTokens} tokens exceeds the cache budget`);
    }
    if (request.prompt.length === 0) throw new RangeError('a sequence needs at least one prompt token');
    this.waiting.push(request);
    this.loop ??= this.drive().finally(() => (this.loop = undefined));
  }

  /** Ends a sequence before the next step; its sink's abort() is called. */
  cancel(id: number): void {
    const index = this.waiting.findIndex((r) => r.id === id);
    if (index >= 0) {
      const [request] = this.waiting.splice(index, 1);
      request.sink.abort?.(new Error('cancelled'));
    } else if (this.rows.some((r) => r.request.id === id) || this.admitting.some((r) => r.id === id)) {
      this.cancelled.add(id);
    }
  }

  stats(): EngineStats {
    return { running: this.rows.length, waiting: this.waiting.length, kvBytes: this.batch.bytes, ...this.counters };
  }

  /** Resolves when no sequence is running or waiting. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private async drive(): Promise<void> {
    while (this.rows.length > 0 || this.waiting.length > 0) {
      // onnxruntime-node's run() blocks its thread and then resolves at once, so without this the
      // loop would go from step to step in microtasks and never let the worker read a message:
      // new sequences and cancels arrive between two steps, here.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        await this.iterate();
      } catch (error) {
        this.failAll(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  private async iterate(): Promise<void> {
    const wasRunning = this.rows.length;
    const keep = this.rows.map((_, i) => i).filter((i) => !this.cancelled.has(this.rows[i].request.id));
    for (const row of this.rows) {
      if (this.cancelled.has(row.request.id)) row.request.sink.abort?.(new Error('cancelled'));
    }
    this.cancelled.clear();
    let kept = keep.map((i) => this.rows[i]);

    const admitted = this.admit(kept);
    const joining: Array<{ block: CacheBlock; rows: number[] }> = [];
    const joined: Running[] = [];
    if (admitted.length > 0) {
      this.admitting = admitted;
      const { block, firsts } = await this.prefill(admitted);
      this.admitting = [];
      const staying: number[] = [];
      admitted.forEach((request, r) => {
        if (this.cancelled.delete(request.id)) return request.sink.abort?.(new Error('cancelled'));
        if (firsts[r].done) return;
        staying.push(r);
        joined.push({ request, next: firsts[r].token, reserve: request.prompt.length + 1 });
      });
      if (staying.length > 0) joining.push({ block, rows: staying });
      if (wasRunning > 0) this.counters.joinedMidBatch += joined.length;
    }
    if (keep.length !== this.rows.length || joining.length > 0) {
      this.batch.rebuild(keep, joining);
      kept = kept.concat(joined);
    }
    this.rows = kept;
    if (this.rows.length === 0) return;
    await this.step();
  }

  /** Waiting requests (in arrival order) that fit beside the running rows, whose cache is reserved whole. */
  private admit(running: Running[]): SequenceRequest[] {
    const admitted: SequenceRequest[] = [];
    let longest = running.reduce((max, r) => Math.max(max, r.request.prompt.length + r.request.maxTokens), 0);
    let count = running.length;
    while (this.waiting.length > 0 && count < this.limits.maxSequences) {
      const request = this.waiting[0];
      const future = Math.max(longest, request.prompt.length + request.maxTokens);
      if ((count + 1) * future > this.limits.kvBudgetTokens) break;
      admitted.push(this.waiting.shift()!);
      longest = future;
      count += 1;
    }
    return admitted;
  }

  /**
   * Runs the prompts of newly admitted sequences as one left-padded batch, in chunks of columns so
   * that a pass never returns more than prefillChunkTokens rows of logits, and picks each one's first token.
   */
  private async prefill(requests: SequenceRequest[]): Promise<{ block: CacheBlock; firsts: Array<{ token: number; done: boolean }> }> {
    this.counters.prefills += 1;
    const n = requests.length;
    const lengths = requests.map((r) => r.prompt.length);
    const width = Math.max(...lengths);
    const chunk = Math.max(1, Math.floor(this.limits.prefillChunkTokens / n));
    const { layout } = this.model;
    let past: LayerCache[] = Array.from({ length: layout.layers }, () => ({ key: emptyCache(layout), value: emptyCache(layout) }));
    let logits: Tensor | undefined;
    for (let start = 0; start < width; start += chunk) {
      const end = Math.min(width, start + chunk);
      const columns = end - start;
      const ids = new BigInt64Array(n * columns);
      const positions = new BigInt64Array(n * columns);
      const mask = new BigInt64Array(n * end);
      requests.forEach((request, r) => {
        const pad = width - lengths[r];
        for (let c = 0; c < end; c++) mask[r * end + c] = c >= pad ? 1n : 0n;
        for (let c = start; c < end; c++) {
          const at = r * columns + (c - start);
          ids[at] = c >= pad ? BigInt(request.prompt[c - pad]) : 0n;
          positions[at] = c >= pad ? BigInt(c - pad) : 1n;
        }
      });
      const feeds: NamedTensors = {
        input_ids: { datatype: 'INT64', shape: [n, columns], data: ids },
        attention_mask: { datatype: 'INT64', shape: [n, end], data: mask },
      };
      if (this.model.positionIds) feeds.position_ids = { datatype: 'INT64', shape: [n, columns], data: positions };
      const pastShape = [n, layout.kvHeads, start, layout.headDim];
      past.forEach((cache, i) => {
        feeds[pastKeyName(i)] = { datatype: layout.datatype, shape: pastShape, data: cache.key };
        feeds[pastValueName(i)] = { datatype: layout.datatype, shape: pastShape, data: cache.value };
      });
      const outputs = await this.model.run(feeds, this.outputNames);
      past = presents(outputs, layout.layers);
      logits = outputs.logits;
    }
    const vocab = logits!.shape[2];
    const columns = logits!.shape[1];
    const firsts = requests.map((request, r) => {
      const picked = request.sink.next(logitsRow(logits!, (r * columns + columns - 1) * vocab, vocab));
      this.counters.tokens += 1;
      return picked;
    });
    return { block: { layers: past, columns: width, lengths }, firsts };
  }

  /** One decode step for every running row; rows whose sink says done leave before the next step. */
  private async step(): Promise<void> {
    const rows = this.rows;
    const { past, attentionMask, positionIds } = this.batch.stepInputs();
    const ids = BigInt64Array.from(rows, (r) => BigInt(r.next));
    const feeds: NamedTensors = {
      input_ids: { datatype: 'INT64', shape: [rows.length, 1], data: ids },
      attention_mask: attentionMask,
      ...past,
    };
    if (this.model.positionIds) feeds.position_ids = positionIds;
    const greedy = this.greedyOutputNames !== undefined && rows.every((r) => r.request.greedy);
    const outputs = await this.model.run(feeds, greedy ? this.greedyOutputNames! : this.stepOutputNames);
    if (this.stepColumns) this.batch.append(stepColumnsOf(outputs, this.model.layout.layers));
    else this.batch.advance(presents(outputs, this.model.layout.layers));
    this.counters.steps += 1;
    this.counters.rows += rows.length;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, rows.length);
    const keep: number[] = [];
    const logits = outputs.logits;
    const tokens = outputs[GREEDY_TOKEN]?.data as BigInt64Array | undefined;
    const vocab = logits?.shape[2] ?? 0;
    rows.forEach((row, r) => {
      const picked = greedy
        ? row.request.sink.next(undefined, Number(tokens![r]))
        : row.request.sink.next(logitsRow(logits, r * vocab, vocab));
      this.counters.tokens += 1;
      row.next = picked.token;
      row.reserve += 1;
      if (!picked.done) keep.push(r);
    });
    if (keep.length !== rows.length) {
      this.batch.rebuild(keep);
      this.rows = keep.map((r) => rows[r]);
    }
  }

  private failAll(error: Error): void {
    for (const row of this.rows) row.request.sink.abort?.(error);
    for (const request of this.admitting.splice(0)) request.sink.abort?.(error);
    for (const request of this.waiting.splice(0)) request.sink.abort?.(error);
    this.rows = [];
    this.cancelled.clear();
    this.batch.rebuild([]);
  }
}

/** Bytes a sequence's whole cache takes: for a budget given in bytes. */
export function budgetTokens(layout: CacheLayout, budgetBytes: number): number {
  return Math.floor(budgetBytes / bytesPerToken(layout));
}

function emptyCache(layout: CacheLayout): Float32Array | Uint16Array {
  return layout.datatype === 'FP16' ? new Uint16Array(0) : new Float32Array(0);
}

function presents(outputs: NamedTensors, layers: number): LayerCache[] {
  return Array.from({ length: layers }, (_, i) => ({
    key: outputs[presentKeyName(i)].data as LayerCache['key'],
    value: outputs[presentValueName(i)].data as LayerCache['value'],
  }));
}

function stepColumnsOf(outputs: NamedTensors, layers: number): LayerCache[] {
  return Array.from({ length: layers }, (_, i) => ({
    key: outputs[stepKeyValueName(i, 'key')].data as LayerCache['key'],
    value: outputs[stepKeyValueName(i, 'value')].data as LayerCache['value'],
  }));
}

function logitsRow(logits: Tensor, offset: number, vocab: number): Float32Array {
  if (logits.datatype === 'FP32') return (logits.data as Float32Array).subarray(offset, offset + vocab);
  if (logits.datatype === 'FP16') {
    const bits = logits.data as Uint16Array;
    const row = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) row[i] = fp16BitsToFloat32(bits[offset + i]);
    return row;
  }
  throw new TypeError(`logits of type ${logits.datatype} are not supported`);
}

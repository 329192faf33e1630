import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { signatureOf } from './batch-signature.js';
import { ModelStatsRecorder } from './model-stats.js';
import type { ScanSpec } from '../contracts/scan-spec.js';
import { SessionWorker } from './session-worker.js';
import { elementCount, type NamedTensors, splitBatch, type Tensor } from '../contracts/tensor.js';
import type { EmbedAnswer, EmbedPart, PipelineInit, TensorInfo, TextInit } from './worker-protocol.js';

export interface BatchingPolicy {
  maxBatchSize: number;
  /**
   * Each input's and output's batch axis (absent: 0). null: no batch dimension; such an input
   * goes whole to the run, so only requests with equal values share a batch.
   */
  axes?: Record<string, number | null>;
  preferredBatchSizes: number[];
  maxQueueDelayUs: number;
}

export interface RunnerOptions {
  name: string;
  version: string;
  modelPath: string;
  /** Serve through Transformers.js pipeline workers instead of session workers. */
  pipeline?: PipelineInit;
  /** A text model (one vector per text) whose workers tokenize and pool too, for `embed`. */
  text?: TextInit;
  providers: string[];
  instances: number;
  intraOpThreads: number;
  maxQueueSize: number;
  timeoutMs: number;
  /** Null: every request runs alone (the model has no batch dimension, or batching is off). */
  batching: BatchingPolicy | null;
}

export interface RunnerEvents {
  fallback(provider: string, error: string): void;
  execution(batchSize: number, inferSeconds: number): void;
  request(outcome: 'success' | 'fail' | 'overloaded' | 'timeout', queueSeconds: number | undefined): void;
  queueDepth(depth: number): void;
  crashed(error: Error): void;
  stopped(): void;
}

export interface InferResult {
  outputs: NamedTensors;
  /** A pipeline worker's answer. */
  value?: unknown;
  queueMs: number;
  inferenceMs: number;
}

export interface EmbedResult {
  /** Rows × width values, in the part's input order. */
  vectors: Float32Array;
  width: number;
  /** Tokens read, after truncation. */
  tokens: number;
  queueMs: number;
  inferenceMs: number;
}

export interface ScanResult {
  /** spec.output of every window, concatenated: steps × perStep values. */
  values: Float32Array;
  steps: number;
  perStep: number;
  queueMs: number;
  inferenceMs: number;
}

interface Queued {
  inputs: NamedTensors;
  /** A scan runs alone: never merged into a batch. */
  scan?: { spec: ScanSpec; signal: Float32Array; transfer: boolean };
  /** A pipeline call (Transformers.js worker) runs alone too. */
  pipeline?: { input: Float32Array; options: Record<string, unknown> };
  /** Texts for a text worker: batched with other texts, whatever their lengths. */
  embed?: EmbedPart;
  outputs: string[];
  rows: number;
  signature: string;
  enqueued: bigint;
  dispatched?: bigint;
  timer?: NodeJS.Timeout;
  settled: boolean;
  resolve(result: InferResult): void;
  reject(err: Error): void;
}

const nowNs = () => process.hrtime.bigint();

/**
 * One model version in ONNX Runtime: N session workers fed by a bounded queue and, for models
 * with a batch dimension, Triton's dynamic batcher: requests with the same trailing shapes are
 * merged up to maxBatchSize, waiting at most maxQueueDelayUs for a preferred or full batch.
 */
export class ModelRunner {
  private readonly workers: SessionWorker[] = [];
  private queue: Queued[] = [];
  /** Accepted and not yet answered: queued plus running. maxQueueSize bounds this. */
  private accepted = 0;
  private delayTimer?: NodeJS.Timeout;
  private stopped = false;
  private avgRunMs = 10;
  readonly stats: ModelStatsRecorder;
  provider = 'unknown';
  inputs: TensorInfo[] = [];
  outputs: TensorInfo[] = [];

  constructor(
    readonly options: RunnerOptions,
    private readonly events: RunnerEvents,
  ) {
    this.stats = new ModelStatsRecorder(options.name, options.version);
  }

  async start(): Promise<void> {
    try {
      for (let i = 0; i < this.options.instances; i += 1) this.workers.push(await this.spawn(i === 0));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  get liveWorkers(): number {
    return this.workers.length;
  }

  infer(inputs: NamedTensors, outputs: string[], rows: number): Promise<InferResult> {
    // A tensor sent before has had its buffer moved to a worker: refuse it now, not at the deadline.
    const detached = Object.entries(inputs).find(
      ([, t]) => !Array.isArray(t.data) && t.data.buffer.byteLength === 0 && elementCount(t.shape) > 0,
    );
    if (detached)
      return Promise.reject(
        new AppError(ErrorCode.Internal, `input "${detached[0]}" has no data left: its buffer was already handed to a worker`),
      );
    return this.enqueue({ inputs, outputs, rows, signature: signatureOf(inputs, outputs, this.options.batching?.axes) });
  }

  /**
   * Runs a recurrent model over a whole signal in one worker call (see ScanSpec): thousands of
   * windows cost one thread hop, not one each. Same queue bound, deadline and statistics as
   * infer; counted as one request of batch size 1. The signal is copied to the worker (about
   * 150 ms for ten minutes at 16 kHz) unless `transfer`, which hands its buffer over: the caller's
   * array is empty afterwards.
   */
  async scan(spec: ScanSpec, signal: Float32Array, options: { transfer?: boolean } = {}): Promise<ScanResult> {
    const scan = { spec, signal, transfer: options.transfer === true };
    const result = await this.enqueue({ inputs: {}, outputs: [spec.output], rows: 1, signature: 'scan', scan });
    const out = result.outputs[spec.output]!;
    return {
      values: out.data as Float32Array,
      steps: out.shape[0]!,
      perStep: out.shape[1]!,
      queueMs: result.queueMs,
      inferenceMs: result.inferenceMs,
    };
  }

  /** One call of a pipeline worker's Transformers.js pipeline (e.g. speech recognition over a recording). */
  async pipeline(input: Float32Array, options: Record<string, unknown>): Promise<InferResult> {
    return this.enqueue({ inputs: {}, outputs: [], rows: 1, signature: 'pipeline', pipeline: { input, options } });
  }

  /**
   * Texts to vectors in a text model's workers (tokenized, run and pooled there, see TextInit),
   * batched with other requests' texts. At most maxBatchSize inputs per call. A text over the
   * model's limit fails this call alone, with INPUT_TOO_LONG (or is cut when `truncate`).
   */
  async embed(part: EmbedPart): Promise<EmbedResult> {
    if (!this.options.text) throw new AppError(ErrorCode.ValidationFailed, `model "${this.options.name}" is not served as a text model`);
    const limit = this.options.batching?.maxBatchSize || 1;
    if (part.inputs.length > limit)
      throw new AppError(ErrorCode.Internal, `embed takes at most ${limit} inputs per call, got ${part.inputs.length}`);
    const result = await this.enqueue({ inputs: {}, outputs: [], rows: part.inputs.length, signature: 'embed', embed: part });
    const answer = result.value as Extract<EmbedAnswer, { vectors: Float32Array }>;
    return { ...answer, queueMs: result.queueMs, inferenceMs: result.inferenceMs };
  }

  private enqueue(
    request: Pick<Queued, 'inputs' | 'outputs' | 'rows' | 'signature' | 'scan' | 'pipeline' | 'embed'>,
  ): Promise<InferResult> {
    if (this.stopped) return Promise.reject(new AppError(ErrorCode.Unavailable, `model "${this.options.name}" is unloading`));
    if (this.accepted >= this.options.maxQueueSize) {
      this.events.request('overloaded', undefined);
      const seconds = Math.max(1, Math.ceil((this.accepted * this.avgRunMs) / Math.max(1, this.workers.length) / 1000));
      return Promise.reject(
        new AppError(
          ErrorCode.Overloaded,
          `model "${this.options.name}" has ${this.accepted} requests in progress (limit ${this.options.maxQueueSize}); retry later`,
          undefined,
          {
            'retry-after': String(seconds),
          },
        ),
      );
    }
    return new Promise<InferResult>((resolve, reject) => {
      const item: Queued = { ...request, enqueued: nowNs(), settled: false, resolve, reject };
      item.timer = setTimeout(() => this.expire(item), this.options.timeoutMs);
      this.accepted += 1;
      this.queue.push(item);
      this.events.queueDepth(this.queue.length);
      this.dispatch();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.delayTimer);
    for (const item of this.queue.splice(0))
      this.finish(item, new AppError(ErrorCode.Unavailable, `model "${this.options.name}" was unloaded`));
    await Promise.allSettled(this.workers.splice(0).map((w) => w.close()));
    this.events.stopped();
  }

  private async spawn(first: boolean): Promise<SessionWorker> {
    const worker = new SessionWorker({
      modelPath: this.options.modelPath,
      pipeline: this.options.pipeline,
      text: this.options.text,
      // The first instance finds the provider that loads; the others go straight to it.
      providers: first ? this.options.providers : [this.provider],
      intraOpThreads: this.options.intraOpThreads,
    });
    try {
      const ready = await worker.ready;
      if (first) {
        for (const f of ready.fallbacks) this.events.fallback(f.provider, f.error);
        this.provider = ready.provider;
        this.inputs = ready.inputs;
        this.outputs = ready.outputs;
      }
    } catch (err) {
      await worker.terminate();
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${this.options.name}" failed to load: ${(err as Error).message}`);
    }
    worker.onCrash = (err) => this.replace(worker, err);
    return worker;
  }

  /** A crashed worker's batch already failed with 503; a new one takes its place. */
  private replace(dead: SessionWorker, err: Error): void {
    this.events.crashed(err);
    const index = this.workers.indexOf(dead);
    if (index >= 0) this.workers.splice(index, 1);
    if (this.stopped) return;
    this.spawn(false).then(
      (worker) => {
        if (this.stopped) return void worker.close();
        this.workers.push(worker);
        this.dispatch();
      },
      () => undefined,
    );
  }

  /**
   * Idle instances first, under the batcher's rules. Then, while requests still wait, a running
   * instance gets its next batch at once if that batch is already complete (full, a preferred
   * size, or a request that runs alone): it starts the moment the current run ends, instead of a
   * thread round trip later. An incomplete batch is never posted early, so it can still grow.
   */
  private dispatch(): void {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    for (const early of [false, true]) {
      for (const worker of this.workers) {
        if (worker.inFlight !== (early ? 1 : 0) || this.queue.length === 0) continue;
        const batch = this.takeBatch(early);
        if (!batch) return;
        void this.execute(worker, batch);
      }
    }
  }

  /**
   * The next batch to run, or undefined while the batcher waits for more requests. `completeOnly`:
   * only a complete batch, and no timer (the instance is still busy).
   */
  private takeBatch(completeOnly = false): Queued[] | undefined {
    const policy = this.options.batching;
    const head = this.queue[0]!;
    if (!policy || head.scan || head.pipeline) return [this.queue.shift()!];
    const picked: Queued[] = [];
    let rows = 0;
    for (const item of this.queue) {
      if (item.scan || item.pipeline || item.signature !== head.signature) continue;
      if (rows + item.rows > policy.maxBatchSize) break;
      picked.push(item);
      rows += item.rows;
    }
    const full = rows >= policy.maxBatchSize || policy.preferredBatchSizes.includes(rows);
    if (!full && completeOnly) return undefined;
    const waitedUs = Number(nowNs() - head.enqueued) / 1e3;
    if (!full && waitedUs < policy.maxQueueDelayUs) {
      this.delayTimer = setTimeout(() => this.dispatch(), Math.ceil((policy.maxQueueDelayUs - waitedUs) / 1e3));
      return undefined;
    }
    const taken = new Set(picked);
    this.queue = this.queue.filter((item) => !taken.has(item));
    return picked;
  }

  private async execute(worker: SessionWorker, batch: Queued[]): Promise<void> {
    worker.inFlight += 1;
    this.events.queueDepth(this.queue.length);
    const started = nowNs();
    for (const item of batch) item.dispatched = started;
    const head = batch[0]!;
    // Wall-clock, for the worker: a scan stops between windows once its request has expired.
    const deadline = Date.now() + this.options.timeoutMs - Number(started - head.enqueued) / 1e6;
    try {
      // Parts, not a concatenation: copying the batch together happens in the worker, off this thread.
      const inputs: Record<string, Tensor[]> = {};
      for (const name of Object.keys(batch[0]!.inputs)) inputs[name] = batch.map((b) => b.inputs[name]!);
      const prepNs = Number(nowNs() - started);
      const {
        outputs,
        value,
        inputNs: assembleNs,
        inferNs,
        startedNs,
      } = head.scan
        ? await worker.scan(head.scan.spec, head.scan.signal, deadline, head.scan.transfer)
        : head.pipeline
          ? await worker.pipeline(head.pipeline.input, head.pipeline.options)
          : head.embed
            ? await worker.embed(batch.map((b) => b.embed!))
            : await worker.run(inputs, head.outputs, this.options.batching?.axes);
      const inputNs = prepNs + assembleNs;
      // A batch posted early waited in the worker's queue: that wait is queue time too.
      if (startedNs !== undefined && startedNs > started) for (const item of batch) item.dispatched = startedNs;
      const outStart = nowNs();
      const rows = batch.map((b) => b.rows);
      const parts = batch.map(() => ({}) as NamedTensors);
      for (const [name, tensor] of Object.entries(outputs)) {
        const axis = this.axisOf(name);
        if (axis === null) parts.forEach((p, i) => (p[name] = i === 0 ? tensor : copyOf(tensor)));
        else splitBatch(tensor, rows, axis).forEach((t, i) => (parts[i]![name] = t));
      }
      const outputNs = Number(nowNs() - outStart);
      const batchSize = rows.reduce((a, b) => a + b, 0);
      this.stats.execution(batchSize, batch.length, inputNs, inferNs, outputNs);
      this.events.execution(batchSize, inferNs / 1e9);
      this.avgRunMs = this.avgRunMs * 0.8 + (Number(nowNs() - started) / 1e6) * 0.2;
      batch.forEach((item, i) => {
        // An embed answer is per request: vectors, or why that request's texts were refused.
        const own = head.embed ? (value as EmbedAnswer[])[i] : value;
        if (head.embed && 'code' in (own as EmbedAnswer)) this.finish(item, embedError(own as { code: string; message: string }));
        else this.finish(item, undefined, { outputs: parts[i]!, value: own, inferenceMs: inferNs / 1e6 });
      });
    } catch (err) {
      // A scan the worker stopped at its deadline answers as a timeout, whichever clock saw it first.
      const late = head.scan !== undefined && Date.now() >= deadline;
      for (const item of batch) {
        if (late) this.expire(item);
        else this.finish(item, err as Error);
      }
    } finally {
      worker.inFlight -= 1;
      this.dispatch();
    }
  }

  private axisOf(name: string): number | null {
    const axis = this.options.batching?.axes?.[name];
    return axis === undefined ? 0 : axis;
  }

  private expire(item: Queued): void {
    if (item.settled) return;
    this.queue = this.queue.filter((q) => q !== item);
    this.finish(
      item,
      new AppError(ErrorCode.DeadlineExceeded, `model "${this.options.name}" did not answer within ${this.options.timeoutMs} ms`),
    );
  }

  private finish(item: Queued, err: Error | undefined, result?: { outputs: NamedTensors; value?: unknown; inferenceMs: number }): void {
    if (item.settled) return;
    item.settled = true;
    this.accepted -= 1;
    clearTimeout(item.timer);
    const queueNs = item.dispatched === undefined ? undefined : Number(item.dispatched - item.enqueued);
    const totalNs = Number(nowNs() - item.enqueued);
    this.stats.request(!err, totalNs, queueNs);
    const timedOut = err instanceof AppError && err.code === ErrorCode.DeadlineExceeded;
    this.events.request(err ? (timedOut ? 'timeout' : 'fail') : 'success', queueNs === undefined ? undefined : queueNs / 1e9);
    if (err) item.reject(err);
    else item.resolve({ outputs: result!.outputs, value: result!.value, queueMs: (queueNs ?? 0) / 1e6, inferenceMs: result!.inferenceMs });
  }
}

const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

function embedError(answer: { code: string; message: string }): AppError {
  return new AppError(ERROR_CODES.has(answer.code) ? (answer.code as ErrorCode) : ErrorCode.Internal, answer.message);
}

function copyOf(t: Tensor): Tensor {
  return { datatype: t.datatype, shape: [...t.shape], data: (Array.isArray(t.data) ? [...t.data] : t.data.slice()) as Tensor['data'] };
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { elementCount, type NamedTensors, splitBatch, type Tensor, transferables } from '../contracts/tensor.js';
import type { ScanSpec } from '../contracts/scan-spec.js';
import { Admission } from './admission.js';
import { signatureOf } from './batch-signature.js';
import { type Batchable, Batcher, type BatchPolicy } from './batcher.js';
import { ModelStatsRecorder } from './model-stats.js';
import { SessionWorker } from './session-worker.js';
import type { EmbedPart, PipelineRequest, PlainValue, ResultOf, WorkKind, WorkKinds } from './work.js';
import { WorkerPool } from './worker-pool.js';
import type { TensorInfo, WorkTiming } from './worker-protocol.js';
import { type WorkerPlan, workerInit } from './worker-planners.js';

/** How often idle() looks at the requests in progress. */
const IDLE_POLL_MS = 20;
/**
 * Inline calls over the budget that end inline execution. Not in a row: calls within it in between
 * do not reset the count, so no client can keep slow calls coming by mixing in quick ones.
 */
const OVER_BUDGET_CALLS = 3;

export interface BatchingPolicy extends BatchPolicy {
  /**
   * Each input's and output's batch axis (absent: 0). null: no batch dimension; such an input
   * goes whole to the run, so only requests with equal values share a batch.
   */
  axes?: Record<string, number | null>;
}

export interface RunnerOptions {
  name: string;
  version: string;
  worker: WorkerPlan;
  providers: string[];
  instances: number;
  intraOpThreads: number;
  /** Unset: the worker kind's default (see workerInit). */
  intraOpSpinning?: boolean;
  maxQueueSize: number;
  timeoutMs: number;
  /** Null: every request runs alone (the model has no batch dimension, or batching is off). */
  batching: BatchingPolicy | null;
  /**
   * A request that is the only one in progress, of at most maxRows rows and maxElements input
   * values, runs on the main thread (a session of its own there, on the CPU) instead of a worker:
   * no thread hop each way. The first call of each kind warms that session up (an embed extension
   * is warmed at start); after that, the OVER_BUDGET_CALLS-th call that holds the thread longer
   * than budgetMs ends it (one alone may be the machine preempting the thread), and every request
   * goes to the workers from then on. `run` and `embed` work only. Unset: never.
   */
  inline?: InlinePolicy;
}

export interface InlinePolicy {
  budgetMs: number;
  maxRows: number;
  /** Input values: tensor elements (`run`), or characters and token ids (`embed`). */
  maxElements: number;
}

export interface RunnerEvents {
  fallback(provider: string, error: string): void;
  execution(batchSize: number, inferSeconds: number): void;
  request(outcome: 'success' | 'fail' | 'overloaded' | 'timeout', queueSeconds: number | undefined): void;
  queueDepth(depth: number): void;
  /** Lone requests run on the main thread now, or no longer (`reason`). */
  inline(serving: boolean, reason: string): void;
  /** A request ran on the main thread. */
  ranInline(): void;
  crashed(error: Error): void;
  stopped(): void;
}

export type InferResult = ResultOf<'run'>;
export type ScanResult = ResultOf<'scan'>;
export type PipelineResult = ResultOf<'pipeline'>;
export type EmbedResult = ResultOf<'embed'>;
export type GenerateResult = ResultOf<'generate'>;

/** A request while it waits and runs. */
interface Tracked extends Batchable {
  dispatchedNs?: bigint;
  timer?: NodeJS.Timeout;
  settled: boolean;
  reject(err: Error): void;
}
/** A request of kind K. */
interface Accepted<K extends WorkKind> extends Tracked {
  kind: K;
  request: WorkKinds[K]['request'];
  resolve(result: ResultOf<K>): void;
}
type Queued = { [K in WorkKind]: Accepted<K> }[WorkKind];

const nowNs = () => process.hrtime.bigint();

/**
 * One model version: admission (a bounded number of accepted requests), the batcher (Triton's
 * dynamic batching policy) and a pool of workers, composed. Each kind of work has one entry
 * point here and one case in `execute`.
 */
export class ModelRunner {
  private readonly pool: WorkerPool;
  private readonly admission: Admission;
  private readonly batcher: Batcher<Queued>;
  private delayTimer?: NodeJS.Timeout;
  private dispatchScheduled = false;
  /** The main thread's session while lone requests may run there (see RunnerOptions.inline). */
  private inline?: { instance: SessionWorker; policy: InlinePolicy; warm: Set<WorkKind>; overBudget: number };
  readonly stats: ModelStatsRecorder;

  constructor(
    readonly options: RunnerOptions,
    private readonly events: RunnerEvents,
  ) {
    this.stats = new ModelStatsRecorder(options.name, options.version);
    this.admission = new Admission(options.name, options.maxQueueSize);
    this.batcher = new Batcher(options.batching, options.timeoutMs);
    this.pool = new WorkerPool(
      {
        name: options.name,
        instances: options.instances,
        providers: options.providers,
        init: (providers) => workerInit(options.worker, providers, options.intraOpThreads, options.intraOpSpinning),
      },
      { fallback: events.fallback, crashed: events.crashed, replaced: () => this.dispatch() },
    );
  }

  async start(): Promise<void> {
    try {
      await this.pool.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    await this.startInline();
  }

  /** Whether lone requests run on the main thread now. */
  get inlineServing(): boolean {
    return this.inline !== undefined;
  }

  get liveWorkers(): number {
    return this.pool.size;
  }
  /** The execution provider the workers run on. */
  get provider(): string {
    return this.pool.provider;
  }
  get inputs(): TensorInfo[] {
    return this.pool.inputs;
  }
  get outputs(): TensorInfo[] {
    return this.pool.outputs;
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
    const key = `run|${signatureOf(inputs, outputs, this.options.batching?.axes)}`;
    return new Promise((resolve, reject) =>
      this.accept({ kind: 'run', request: { inputs, outputs, rows }, key, rows, ...fresh(), resolve, reject }),
    );
  }

  /**
   * Runs a recurrent model over a whole signal in one worker call (see ScanSpec): thousands of
   * windows cost one thread hop, not one each. Same queue bound, deadline and statistics as
   * infer; counted as one request of batch size 1. The signal is copied to the worker (about
   * 150 ms for ten minutes at 16 kHz) unless `transfer`, which hands its buffer over: the caller's
   * array is empty afterwards.
   */
  scan(spec: ScanSpec, signal: Float32Array, options: { transfer?: boolean } = {}): Promise<ScanResult> {
    const request = { spec, signal, transfer: options.transfer === true };
    return new Promise((resolve, reject) => this.accept({ kind: 'scan', request, key: null, rows: 1, ...fresh(), resolve, reject }));
  }

  /** One call of a pipeline worker's program (see WorkerPlan), alone on its worker. */
  pipeline(input: PipelineRequest['input'], options: PipelineRequest['options']): Promise<PipelineResult> {
    const request = { input, options };
    return new Promise((resolve, reject) => this.accept({ kind: 'pipeline', request, key: null, rows: 1, ...fresh(), resolve, reject }));
  }

  /**
   * Inputs to vectors in the workers' `embed` extension, batched with other requests' inputs. At
   * most maxBatchSize inputs per call. The extension may refuse this call alone (e.g. an input
   * over the model's limit) with its own ErrorCode.
   */
  async embed(part: EmbedPart): Promise<EmbedResult> {
    if (this.options.worker.kind !== 'session-embed')
      throw new AppError(ErrorCode.ValidationFailed, `model "${this.options.name}" has no embed extension in its workers`);
    const limit = this.options.batching?.maxBatchSize || 1;
    if (part.inputs.length > limit)
      throw new AppError(ErrorCode.Internal, `embed takes at most ${limit} inputs per call, got ${part.inputs.length}`);
    const rows = part.inputs.length;
    return new Promise((resolve, reject) => this.accept({ kind: 'embed', request: part, key: 'embed', rows, ...fresh(), resolve, reject }));
  }

  /**
   * One streaming call of the workers' decoder loop (see WorkerPlan `session-generate`), on the
   * worker with the fewest calls in flight. It skips the queue and the batcher: the loop admits,
   * batches and refuses (OVERLOADED) its sequences itself, and a call lasts as long as its tokens
   * take, so the model's request deadline does not apply. Aborting `signal` ends it before the
   * loop's next step.
   */
  async generate(input: PlainValue, onEvent: (event: PlainValue) => void, signal?: AbortSignal): Promise<GenerateResult> {
    if (this.options.worker.kind !== 'session-generate')
      throw new AppError(ErrorCode.ValidationFailed, `model "${this.options.name}" has no decoder loop in its workers`);
    const worker = this.pool.all.reduce<SessionWorker | undefined>(
      (best, w) => (!best || w.inFlight < best.inFlight ? w : best),
      undefined,
    );
    if (!worker) throw new AppError(ErrorCode.Unavailable, `model "${this.options.name}" has no live instance`);
    const started = nowNs();
    this.pool.acquire(worker);
    try {
      const done = await worker.stream({ input }, onEvent, signal);
      this.stats.request(true, Number(nowNs() - started), 0);
      this.events.request('success', 0);
      return { output: done.answer.output, queueMs: 0, inferenceMs: done.timing.inferNs / 1e6 };
    } catch (err) {
      const overloaded = err instanceof AppError && err.code === ErrorCode.Overloaded;
      this.stats.request(false, Number(nowNs() - started), undefined);
      this.events.request(overloaded ? 'overloaded' : 'fail', undefined);
      throw err;
    } finally {
      this.pool.release(worker);
    }
  }

  /** Resolves once no admitted request is left (or after `timeoutMs`): a reload stops the runner without failing any. */
  async idle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.admission.inProgress > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
  }

  async stop(): Promise<void> {
    this.admission.close();
    clearTimeout(this.delayTimer);
    for (const item of this.batcher.drain())
      this.fail(item, new AppError(ErrorCode.Unavailable, `model "${this.options.name}" was unloaded`));
    await Promise.all([this.pool.stop(), this.stopInline()]);
    this.events.stopped();
  }

  private async startInline(): Promise<void> {
    const policy = this.options.inline;
    const plan = this.options.worker;
    if (!policy || (plan.kind !== 'session' && plan.kind !== 'session-embed')) return;
    // One thread, the CPU: what runs here must never wait on a device or start a thread pool.
    const instance = new SessionWorker(workerInit(plan, ['cpu'], 1, false), { inline: true });
    const warm = new Set<WorkKind>();
    try {
      await instance.ready;
      if (plan.kind === 'session-embed') {
        // Loads the extension (a tokenizer) and runs it once now, not in a request's time.
        const [answer] = (await instance.send('embed', { parts: [{ inputs: ['warm up'], truncate: true, offset: 0 }] })).answer;
        if (!answer!.ok) throw new Error(answer!.message);
        warm.add('embed');
      }
    } catch (err) {
      await instance.terminate();
      return this.events.inline(false, `its session did not load on the main thread (${(err as Error).message})`);
    }
    this.inline = { instance, policy, warm, overBudget: 0 };
    this.events.inline(
      true,
      `lone requests of at most ${policy.maxRows} row(s) and ${policy.maxElements} input values, ${policy.budgetMs} ms a call`,
    );
  }

  /** Ends inline execution: the workers take every request from now on. */
  private async stopInline(reason?: string): Promise<void> {
    const inline = this.inline;
    if (!inline) return;
    this.inline = undefined;
    if (reason) this.events.inline(false, reason);
    await inline.instance.close();
  }

  /**
   * The queued request, when it may run on the main thread: it is the only one in progress (so
   * no worker has work and none waits behind it), of a kind that runs there, and small enough:
   * its size bounds what it can cost the thread before it runs.
   */
  private loneForInline(): Queued | undefined {
    const inline = this.inline;
    if (!inline || inline.instance.inFlight > 0 || this.admission.inProgress !== 1 || this.batcher.length !== 1) return undefined;
    const item = this.batcher.peek()!;
    if (item.rows > inline.policy.maxRows) return undefined;
    if (item.kind === 'run') return inputValues(item.request.inputs) <= inline.policy.maxElements ? item : undefined;
    if (item.kind === 'embed') return embedValues(item.request) <= inline.policy.maxElements ? item : undefined;
    return undefined;
  }

  /** Runs `item` on the main thread's session; the calls over the budget end inline execution. */
  private async executeInline(item: Queued): Promise<void> {
    const inline = this.inline!;
    this.batcher.remove(item);
    const timing = await this.execute(inline.instance, [item]);
    this.events.ranInline();
    // What the call held the main thread for (its waits for the event loop left out; a failed call: its whole time).
    const ms = (timing?.blockedNs ?? Number(nowNs() - item.dispatchedNs!)) / 1e6;
    // The first call of a kind warms its path up (ONNX Runtime allocates on its first run): it is not judged.
    if (!inline.warm.has(item.kind)) return void inline.warm.add(item.kind);
    if (ms <= inline.policy.budgetMs) return;
    inline.overBudget += 1;
    if (inline.overBudget === OVER_BUDGET_CALLS && this.inline === inline)
      await this.stopInline(
        `${OVER_BUDGET_CALLS} calls held it longer than the budget of ${inline.policy.budgetMs} ms (the last ${ms.toFixed(3)} ms); every request runs on the workers now`,
      );
  }

  /** Admission, then the queue, with the request's deadline armed. */
  private accept(item: Queued): void {
    const refused = this.admission.admit(this.pool.size);
    if (refused) {
      if (refused.code === ErrorCode.Overloaded) this.events.request('overloaded', undefined);
      return item.reject(refused);
    }
    item.timer = setTimeout(() => this.expire(item), this.options.timeoutMs);
    this.batcher.push(item);
    this.events.queueDepth(this.batcher.length);
    this.dispatchSoon();
  }

  /**
   * Dispatches once the event loop has run the handlers of every request that arrived in this
   * turn: requests read from many sockets in one poll phase then travel to a worker in one
   * message (and come back in one), not one message each. It waits for no timer: setImmediate
   * runs right after the poll phase.
   */
  private dispatchSoon(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
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
    const lone = this.loneForInline();
    if (lone) return void this.executeInline(lone);
    for (const early of [false, true]) {
      for (const worker of this.pool.all) {
        if (worker.inFlight !== (early ? 1 : 0) || this.batcher.length === 0) continue;
        const decision = this.batcher.next(nowNs(), early);
        if (!decision) return;
        if ('waitMs' in decision) {
          this.delayTimer = setTimeout(() => this.dispatch(), decision.waitMs);
          return;
        }
        void this.execute(worker, decision.batch);
      }
    }
  }

  /** Runs `batch` on `worker`; the worker's timing of it, when it answered. */
  private async execute(worker: SessionWorker, batch: Queued[]): Promise<WorkTiming | undefined> {
    this.pool.acquire(worker);
    this.events.queueDepth(this.batcher.length);
    const started = nowNs();
    for (const item of batch) item.dispatchedNs = started;
    try {
      const head = batch[0]!;
      switch (head.kind) {
        case 'run':
          return await this.run(worker, ofKind(batch, 'run'), started);
        case 'scan':
          return await this.runScan(worker, head, started);
        case 'pipeline':
          return await this.runPipeline(worker, head, started);
        case 'embed':
          return await this.runEmbed(worker, ofKind(batch, 'embed'), started);
        case 'generate':
          throw new Error('generate calls go to a worker directly (see generate()), never through the batcher');
      }
    } catch (err) {
      // A scan the worker stopped at its deadline answers as a timeout, whichever clock saw it first.
      const late = err instanceof AppError && err.code === ErrorCode.DeadlineExceeded;
      for (const item of batch) {
        if (late) this.expire(item);
        else this.fail(item, err as Error);
      }
      return undefined;
    } finally {
      this.pool.release(worker);
      this.dispatch();
    }
  }

  private async run(worker: SessionWorker, batch: Array<Accepted<'run'>>, started: bigint): Promise<WorkTiming> {
    const head = batch[0]!;
    // Parts, not a concatenation: copying the batch together happens in the worker, off this thread.
    const inputs: Record<string, Tensor[]> = {};
    for (const name of Object.keys(head.request.inputs)) inputs[name] = batch.map((b) => b.request.inputs[name]!);
    const prepNs = Number(nowNs() - started);
    const axes = this.options.batching?.axes;
    const done = await worker.send('run', { inputs, outputs: head.request.outputs, axes }, transferables(Object.values(inputs).flat()));
    const outStart = nowNs();
    const rows = batch.map((b) => b.rows);
    const parts = batch.map(() => ({}) as NamedTensors);
    for (const [name, tensor] of Object.entries(done.answer.outputs)) {
      const axis = this.axisOf(name);
      if (axis === null) parts.forEach((p, i) => (p[name] = i === 0 ? tensor : copyOf(tensor)));
      else splitBatch(tensor, rows, axis).forEach((t, i) => (parts[i]![name] = t));
    }
    const inferenceMs = this.executed(batch, started, prepNs, done.timing, outStart);
    batch.forEach((item, i) => this.succeed(item, { outputs: parts[i]!, queueMs: 0, inferenceMs }));
    return done.timing;
  }

  private async runScan(worker: SessionWorker, item: Accepted<'scan'>, started: bigint): Promise<WorkTiming> {
    const { spec, signal, transfer } = item.request;
    // Wall-clock, for the worker: a scan stops between windows once its request has expired.
    const deadline = this.batcher.wallDeadline(item, started, Date.now());
    const movable = transfer && signal.buffer instanceof ArrayBuffer;
    const prepNs = Number(nowNs() - started);
    const done = await worker.send('scan', { spec, signal, deadline }, movable ? [signal.buffer as ArrayBuffer] : []);
    const inferenceMs = this.executed([item], started, prepNs, done.timing, nowNs());
    this.succeed(item, { ...done.answer, queueMs: 0, inferenceMs });
    return done.timing;
  }

  private async runPipeline(worker: SessionWorker, item: Accepted<'pipeline'>, started: bigint): Promise<WorkTiming> {
    const prepNs = Number(nowNs() - started);
    const done = await worker.send('pipeline', item.request);
    const inferenceMs = this.executed([item], started, prepNs, done.timing, nowNs());
    this.succeed(item, { ...done.answer, queueMs: 0, inferenceMs });
    return done.timing;
  }

  private async runEmbed(worker: SessionWorker, batch: Array<Accepted<'embed'>>, started: bigint): Promise<WorkTiming> {
    const prepNs = Number(nowNs() - started);
    const done = await worker.send('embed', { parts: batch.map((b) => b.request) });
    const inferenceMs = this.executed(batch, started, prepNs, done.timing, nowNs());
    // An answer is per request: vectors, or why the extension refused that request's inputs.
    batch.forEach((item, i) => {
      const answer = done.answer[i]!;
      if (answer.ok) this.succeed(item, { vectors: answer.vectors, width: answer.width, tokens: answer.tokens, queueMs: 0, inferenceMs });
      else this.fail(item, new AppError(answer.code, answer.message));
    });
    return done.timing;
  }

  /** Statistics of one batch the worker answered; its inference time in ms. */
  private executed(batch: Queued[], started: bigint, prepNs: number, timing: WorkTiming, outStart: bigint): number {
    // A batch posted early waited in the worker's queue: that wait is queue time too.
    if (timing.startedNs > started) for (const item of batch) item.dispatchedNs = timing.startedNs;
    const outputNs = Number(nowNs() - outStart);
    const batchSize = batch.reduce((n, b) => n + b.rows, 0);
    this.stats.execution(batchSize, batch.length, prepNs + timing.inputNs, timing.inferNs, outputNs);
    this.events.execution(batchSize, timing.inferNs / 1e9);
    this.admission.ran(Number(nowNs() - started) / 1e6);
    return timing.inferNs / 1e6;
  }

  private axisOf(name: string): number | null {
    const axis = this.options.batching?.axes?.[name];
    return axis === undefined ? 0 : axis;
  }

  private expire(item: Queued): void {
    if (item.settled) return;
    this.batcher.remove(item);
    this.fail(
      item,
      new AppError(ErrorCode.DeadlineExceeded, `model "${this.options.name}" did not answer within ${this.options.timeoutMs} ms`),
    );
  }

  /** Answers a request with its result; `queueMs` is filled in here. */
  private succeed<K extends WorkKind>(item: Accepted<K>, result: ResultOf<K>): void {
    const queueNs = this.settle(item, true);
    if (queueNs === false) return;
    result.queueMs = (queueNs ?? 0) / 1e6;
    item.resolve(result);
  }

  private fail(item: Queued, err: Error): void {
    if (this.settle(item, false, err) !== false) item.reject(err);
  }

  /** Counts the answer once: permit, timer, statistics and metrics. False when the request was already answered. */
  private settle(item: Tracked, ok: boolean, err?: Error): number | undefined | false {
    if (item.settled) return false;
    item.settled = true;
    this.admission.release();
    clearTimeout(item.timer);
    const queueNs = item.dispatchedNs === undefined ? undefined : Number(item.dispatchedNs - item.enqueuedNs);
    this.stats.request(ok, Number(nowNs() - item.enqueuedNs), queueNs);
    const timedOut = err instanceof AppError && err.code === ErrorCode.DeadlineExceeded;
    this.events.request(ok ? 'success' : timedOut ? 'timeout' : 'fail', queueNs === undefined ? undefined : queueNs / 1e9);
    return queueNs;
  }
}

/** The batch's items narrowed to kind K, checked: the batcher only groups requests with equal keys, and keys differ across kinds. */
function ofKind<K extends WorkKind>(batch: Queued[], kind: K): Array<Accepted<K>> {
  const narrowed: Array<Accepted<K>> = [];
  for (const item of batch) {
    if (!isKind(item, kind)) throw new Error(`a "${kind}" batch holds "${item.kind}" work`);
    narrowed.push(item);
  }
  return narrowed;
}

function isKind<K extends WorkKind>(item: Queued, kind: K): item is Queued & Accepted<K> {
  return item.kind === kind;
}

const fresh = () => ({ enqueuedNs: nowNs(), settled: false });

/** A run request's input values (tensor elements). */
function inputValues(inputs: NamedTensors): number {
  let n = 0;
  for (const t of Object.values(inputs)) n += elementCount(t.shape);
  return n;
}

/** An embed request's input values: each text's characters, each token array's ids. */
function embedValues(part: EmbedPart): number {
  let n = 0;
  for (const input of part.inputs) n += input.length;
  return n;
}

function copyOf(t: Tensor): Tensor {
  return { datatype: t.datatype, shape: [...t.shape], data: (Array.isArray(t.data) ? [...t.data] : t.data.slice()) as Tensor['data'] };
}

import { createHash } from 'node:crypto';
import { argmax, EvaluationSum, splitValidation } from './datasets.js';
import { initParams, splitParams } from './head-layout.js';
import { OnnxTrainEngine, type StepResults } from './onnx-train-engine.js';
import { datasetProblems, TrainingSpecError, trainingProblems } from './options.js';
import { Rng } from './rng.js';
import { learningRateAt, momentCount, stepScalars } from './schedule.js';
import { dropoutWidth, usesDropout } from './step-graph.js';
import type { Dataset, EpochMetrics, Evaluation, HeadWeights, StepMetrics, StopReason, TrainerState, TrainOptions } from './types.js';

const DEFAULT_STEPS_PER_RUN = 32;

/** Return false to stop (cancel); the run stops after the steps already computed in this call. */
export type StepListener = (metrics: StepMetrics) => boolean | void;

/**
 * A resumable training run over cached features. The caller drives it epoch by epoch (a job
 * runner checks for cancellation in onStep and saves state() between epochs); the steps run as
 * ONNX graphs (step-graph.ts) in ONNX Runtime, whose calls block the thread: see train.worker.ts.
 * Same options, data and state give bit-identical weights.
 */
export class Trainer {
  private readonly train: Dataset;
  private readonly validation?: Dataset;
  private readonly batch: number;
  private rng: Rng;
  private s: Omit<TrainerState, 'rng' | 'version' | 'fingerprint'>;
  private engine?: Promise<OnnxTrainEngine>;
  private running = false;
  /** Checked between evaluation calls: true ends an evaluation with RunInterrupted (an aborted run). */
  interrupted: () => boolean = () => false;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly fingerprint: string;

  constructor(
    readonly options: TrainOptions,
    train: Dataset,
    validation?: Dataset,
  ) {
    const problems = trainingProblems(options, train, validation);
    if (problems.length > 0) throw new TrainingSpecError(problems);
    const { head } = options;
    if (!validation && options.validationSplit !== undefined) {
      ({ train, validation } = splitValidation(train, options.validationSplit, options.seed, head.inputDim, head.outputDim));
    }
    this.train = train;
    this.validation = validation;
    this.batch = Math.min(options.batchSize, train.n);
    this.stepsPerEpoch = Math.ceil(train.n / this.batch);
    this.totalSteps = this.stepsPerEpoch * options.epochs;
    this.fingerprint = fingerprintOf(options, train, validation);
    this.rng = Rng.fromSeed(options.seed);
    const params = initParams(head, this.rng);
    const moments = Array.from({ length: momentCount(options.optimizer.kind) }, () => new Float32Array(params.length));
    this.s = { epoch: 0, step: 0, params, moments, cursor: 0, epochLossSum: 0, epochCorrect: 0, epochsWithoutImprovement: 0 };
  }

  /** Continues a run from state(); options and data must be those it was made with. */
  static resume(options: TrainOptions, train: Dataset, validation: Dataset | undefined, state: TrainerState): Trainer {
    const trainer = new Trainer(options, train, validation);
    if (state.version !== 1) throw new TrainingSpecError([`unknown trainer state version ${String(state.version)}`]);
    if (state.fingerprint !== trainer.fingerprint) throw new TrainingSpecError(['the saved state was made with other options or data']);
    const { rng, version: _version, fingerprint: _fingerprint, ...rest } = copyState(state);
    trainer.rng = Rng.fromState(rng);
    trainer.s = rest;
    return trainer;
  }

  get epoch(): number {
    return this.s.epoch;
  }

  get step(): number {
    return this.s.step;
  }

  /** Why the run is over; undefined while epochs remain. */
  get finished(): StopReason | undefined {
    return this.s.finished;
  }

  /** Trains until the epoch ends, training ends, or onStep returns false. */
  async runEpoch(onStep?: StepListener): Promise<EpochMetrics> {
    if (this.s.finished) throw new Error(`training has already finished (${this.s.finished})`);
    if (this.running) throw new Error('runEpoch is already running');
    this.running = true;
    try {
      return await this.trainEpoch(onStep);
    } finally {
      this.running = false;
    }
  }

  private async trainEpoch(onStep?: StepListener): Promise<EpochMetrics> {
    const started = performance.now();
    const engine = await this.engineReady();
    if (!this.s.order) {
      this.s.order = this.rng.permutation(this.train.n);
      Object.assign(this.s, { cursor: 0, epochLossSum: 0, epochCorrect: 0 });
    }
    let cancelled = false;
    while (this.s.cursor < this.train.n && !cancelled) {
      const remaining = this.train.n - this.s.cursor;
      const full = Math.floor(remaining / this.batch);
      const steps = full > 0 ? Math.min(this.options.stepsPerRun ?? DEFAULT_STEPS_PER_RUN, full) : 1;
      const batch = full > 0 ? this.batch : remaining;
      const indices = this.s.order.subarray(this.s.cursor, this.s.cursor + steps * batch);
      const results = await engine.runSteps({ ...this.stepInputs(steps, batch), indices, steps, batch });
      cancelled = this.apply(results, indices, steps, batch, onStep);
    }
    const seen = this.s.cursor;
    const trainLoss = this.s.epochLossSum / seen;
    const trainAccuracy = this.options.loss === 'cross-entropy' ? this.s.epochCorrect / seen : undefined;
    if (this.s.cursor < this.train.n) {
      return {
        epoch: this.s.epoch,
        step: this.s.step,
        trainLoss,
        trainAccuracy,
        improved: false,
        stopped: 'cancelled',
        seconds: (performance.now() - started) / 1000,
      };
    }
    const { validation, improved } = await this.endEpoch();
    const stopped = this.s.finished ?? (cancelled ? 'cancelled' : undefined);
    return {
      epoch: this.s.epoch,
      step: this.s.step,
      trainLoss,
      trainAccuracy,
      validation,
      improved,
      stopped,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Mean loss and accuracy (or mse) on `d` of the current weights, or of `params`. */
  async evaluate(d: Dataset, params: Float32Array = this.s.params): Promise<Evaluation> {
    const problems = datasetProblems('dataset', d, this.options);
    if (problems.length > 0) throw new TrainingSpecError(problems);
    return this.score(d, params);
  }

  /** There is validation data: given, or split off by validationSplit. */
  get hasValidation(): boolean {
    return this.validation !== undefined;
  }

  /** evaluate() on the validation data (of the current weights, or `params`); undefined without any. */
  async evaluateValidation(params?: Float32Array): Promise<Evaluation | undefined> {
    return this.validation && this.score(this.validation, params);
  }

  /** A copy of everything needed to resume; serializeState() turns it into bytes. */
  state(): TrainerState {
    return copyState({ version: 1, fingerprint: this.fingerprint, rng: this.rng.state(), ...this.s });
  }

  /** The current weights. */
  weights(): HeadWeights {
    return splitParams(this.options.head, this.s.params);
  }

  /** The weights of the lowest validation loss so far; the current ones without validation data. */
  bestWeights(): HeadWeights {
    return splitParams(this.options.head, this.s.best?.params ?? this.s.params);
  }

  /** Frees the ONNX Runtime sessions; a later runEpoch() or evaluate() makes new ones. */
  async close(): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    if (engine) await (await engine).release();
  }

  /** evaluate() of data checked when the trainer was made. */
  private async score(d: Dataset, params = this.s.params): Promise<Evaluation> {
    const engine = await this.engineReady();
    const sum = new EvaluationSum(this.options.loss, d, this.options.head.outputDim);
    await engine.forEachLogits(d.features, d.n, params, (start, logits) => sum.add(start, logits), this.interrupted);
    return sum.result();
  }

  private engineReady(): Promise<OnnxTrainEngine> {
    const { head, loss, optimizer, threads } = this.options;
    this.engine ??= OnnxTrainEngine.create({ head, loss, optimizer }, threads);
    return this.engine;
  }

  /** Per-step scalars and dropout masks for the next `steps` steps; masks come from the run's generator. */
  private stepInputs(steps: number, batch: number) {
    const { optimizer, head } = this.options;
    const rates = new Float32Array(steps);
    const epsilons = optimizer.kind === 'adam' ? new Float32Array(steps) : undefined;
    for (let i = 0; i < steps; i += 1) {
      const scalars = stepScalars(optimizer, this.s.step + i, this.totalSteps);
      rates[i] = scalars.rate;
      if (epsilons) epsilons[i] = scalars.epsilon;
    }
    let masks: Float32Array | undefined;
    if (usesDropout(head)) {
      masks = new Float32Array(steps * batch * dropoutWidth(head));
      this.rng.fillMask(masks, head.dropout!, 1 / (1 - head.dropout!));
    }
    const { features, labels, targets, n } = this.train;
    return { features, labels, targets, n, rates, epsilons, masks, params: this.s.params, moments: this.s.moments };
  }

  /** Takes a call's results into the state and reports its steps; true when onStep asked to stop. */
  private apply(results: StepResults, indices: Int32Array, steps: number, batch: number, onStep?: StepListener): boolean {
    this.s.params = results.params;
    this.s.moments = results.moments;
    const outputDim = this.options.head.outputDim;
    let stop = false;
    for (let i = 0; i < steps; i += 1) {
      const loss = results.losses[i]!;
      if (!Number.isFinite(loss))
        throw new Error(`training diverged: the loss is ${loss} at step ${this.s.step + 1}; lower the learning rate`);
      this.s.epochLossSum += loss * batch;
      if (results.logits) {
        for (let r = 0; r < batch; r += 1) {
          const row = (i * batch + r) * outputDim;
          if (argmax(results.logits.subarray(row, row + outputDim)) === this.train.labels![indices[i * batch + r]!])
            this.s.epochCorrect += 1;
        }
      }
      const learningRate = learningRateAt(this.options.optimizer, this.s.step, this.totalSteps);
      this.s.step += 1;
      this.s.cursor += batch;
      if (!stop && onStep?.({ epoch: this.s.epoch, step: this.s.step, loss, learningRate, batchSize: batch }) === false) stop = true;
    }
    return stop;
  }

  private async endEpoch(): Promise<{ validation?: Evaluation; improved: boolean }> {
    this.s.epoch += 1;
    this.s.order = undefined;
    let improved = false;
    const validation = await this.evaluateValidation();
    if (validation) {
      if (!this.s.best || validation.loss < this.s.best.loss) {
        this.s.best = { params: this.s.params.slice(), loss: validation.loss, epoch: this.s.epoch };
        this.s.epochsWithoutImprovement = 0;
        improved = true;
      } else {
        this.s.epochsWithoutImprovement += 1;
      }
    }
    const patience = this.options.earlyStoppingPatience;
    if (patience !== undefined && this.s.epochsWithoutImprovement >= patience) this.s.finished = 'early-stopping';
    else if (this.s.epoch >= this.options.epochs) this.s.finished = 'completed';
    return { validation, improved };
  }
}

function copyState(s: TrainerState): TrainerState {
  return {
    ...s,
    rng: s.rng.slice(),
    params: s.params.slice(),
    moments: s.moments.map((m) => m.slice()),
    order: s.order?.slice(),
    best: s.best && { ...s.best, params: s.best.params.slice() },
  };
}

/**
 * Options and data shapes that decide the numbers (threads and stepsPerRun do not: see the
 * determinism tests). The data's contents are the caller's to pin (e.g. the features' sha256).
 */
function fingerprintOf(options: TrainOptions, train: Dataset, validation?: Dataset): string {
  const { threads: _threads, stepsPerRun: _stepsPerRun, ...rest } = options;
  const canonical = JSON.stringify({ options: sortKeys(rest), train: train.n, validation: validation?.n ?? 0 });
  return createHash('sha256').update(canonical).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The ONNX Runtime side of training: sessions over the train-loop and eval graphs of step-graph.ts.
 * session.run blocks its thread while the steps run, so a server runs this inside training's
 * train.worker.ts, the only thread that loads it (eslint.config.js lists it among the worker helpers).
 */
import ort from 'onnxruntime-node';
import { evalModel, type StepSpec, trainLoopModel } from './step-graph.js';

/** One call's batches: `indices` holds `steps` rows of `batch` example indices. */
export interface StepFeeds {
  features: Float32Array;
  /** cross-entropy: class indices [n]. */
  labels?: Int32Array;
  /** mse: [n, C]. */
  targets?: Float32Array;
  n: number;
  indices: Int32Array;
  steps: number;
  batch: number;
  rates: Float32Array;
  epsilons?: Float32Array;
  masks?: Float32Array;
  params: Float32Array;
  moments: Float32Array[];
}

export interface StepResults {
  params: Float32Array;
  moments: Float32Array[];
  losses: Float32Array;
  /** cross-entropy only: [steps, batch, C]. */
  logits?: Float32Array;
}

/** Rows per evaluation call, bounding the logits buffer ONNX Runtime allocates. */
const EVAL_ROWS = 8192;
/**
 * Multiply-adds per evaluation call (rows × head parameters): a call cannot be interrupted, so a
 * big head evaluates fewer rows a call and an abort is seen sooner.
 */
const EVAL_WORK = 2 ** 26;

/** Thrown by logits() when its `interrupted` check says stop between calls. */
export class RunInterrupted extends Error {
  override readonly name = 'RunInterrupted';
}

export function sessionOptions(threads = 1): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

export class OnnxTrainEngine {
  private constructor(
    private readonly spec: StepSpec,
    private readonly train: ort.InferenceSession,
    private readonly evaluation: ort.InferenceSession,
  ) {}

  static async create(spec: StepSpec, threads?: number): Promise<OnnxTrainEngine> {
    const options = sessionOptions(threads);
    const train = await ort.InferenceSession.create(trainLoopModel(spec), options);
    try {
      return new OnnxTrainEngine(spec, train, await ort.InferenceSession.create(evalModel(spec.head), options));
    } catch (err) {
      await train.release();
      throw err;
    }
  }

  async runSteps(f: StepFeeds): Promise<StepResults> {
    const { head } = this.spec;
    const size = f.params.length;
    const t = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
    const feeds: Record<string, ort.Tensor> = {
      features: t(f.features, [f.n, head.inputDim]),
      indices: new ort.Tensor('int32', f.indices, [f.steps, f.batch]),
      rates: t(f.rates, [f.steps]),
      inv_batch: t(Float32Array.of(1 / f.batch), []),
      params: t(f.params, [size]),
    };
    if (f.labels) feeds.labels = new ort.Tensor('int32', f.labels, [f.n]);
    if (f.targets) feeds.targets = t(f.targets, [f.n, head.outputDim]);
    if (f.epsilons) feeds.epsilons = t(f.epsilons, [f.steps]);
    if (f.masks) feeds.masks = t(f.masks, [f.steps, f.batch, f.masks.length / (f.steps * f.batch)]);
    f.moments.forEach((m, i) => (feeds[`moment_${i}`] = t(m, [size])));
    const out = await this.train.run(feeds);
    const data = (name: string) => out[name]!.data as Float32Array;
    return {
      params: data('params_out'),
      moments: f.moments.map((_, i) => data(`moment_${i}_out`)),
      losses: data('losses'),
      logits: out.logits ? data('logits') : undefined,
    };
  }

  /**
   * The logits of `rows` feature rows under `params`, handed to `visit` a block of rows at a time
   * (the first row's index, then [count, C]), so a large validation set never holds all its logits.
   * Throws RunInterrupted when `interrupted()` turns true between calls.
   */
  async forEachLogits(
    features: Float32Array,
    rows: number,
    params: Float32Array,
    visit: (start: number, logits: Float32Array) => void,
    interrupted: () => boolean = () => false,
  ): Promise<void> {
    const { inputDim } = this.spec.head;
    const paramTensor = new ort.Tensor('float32', params, [params.length]);
    const chunk = Math.max(1, Math.min(EVAL_ROWS, Math.floor(EVAL_WORK / params.length)));
    for (let start = 0; start < rows; start += chunk) {
      if (interrupted()) throw new RunInterrupted('evaluation interrupted');
      const count = Math.min(chunk, rows - start);
      const x = new ort.Tensor('float32', features.subarray(start * inputDim, (start + count) * inputDim), [count, inputDim]);
      const out = await this.evaluation.run({ features: x, params: paramTensor });
      visit(start, out.logits!.data as Float32Array);
    }
  }

  /** Logits [rows, C] of `rows` feature rows under `params`. */
  async logits(features: Float32Array, rows: number, params: Float32Array): Promise<Float32Array> {
    const result = new Float32Array(rows * this.spec.head.outputDim);
    await this.forEachLogits(features, rows, params, (start, logits) => result.set(logits, start * this.spec.head.outputDim));
    return result;
  }

  async release(): Promise<void> {
    await this.train.release();
    await this.evaluation.release();
  }
}

/**
 * The training core's vocabulary: a head over frozen backbone features, its loss, optimizer and
 * schedule, the datasets it learns from, and what a run reports and saves. Pure data: everything
 * here survives structured cloning (worker messages) and `serializeState`.
 */

export type Activation = 'relu' | 'gelu' | 'tanh';

/**
 * `linear`: logits = x·W + b. `mlp`: logits = act(x·W1 + b1)·W2 + b2 (one hidden layer).
 * Dropout, when set, drops the input of the last layer during training: the features for `linear`,
 * the hidden activations for `mlp` (inverted dropout: kept values are scaled by 1 / (1 - dropout)).
 */
export interface HeadSpec {
  kind: 'linear' | 'mlp';
  inputDim: number;
  outputDim: number;
  /** Hidden width, `mlp` only. */
  hidden?: number;
  /** Hidden activation, `mlp` only; default relu. GELU is the exact (erf) form. */
  activation?: Activation;
  /** In [0, 1); default 0. */
  dropout?: number;
}

/**
 * cross-entropy: mean over the batch of -log softmax(logits)[label].
 * mse: mean over the batch and the outputs of (logits - target)^2.
 */
export type LossKind = 'cross-entropy' | 'mse';

export type OptimizerKind = 'sgd' | 'momentum' | 'adam';
export type ScheduleKind = 'constant' | 'linear' | 'cosine';

/**
 * Update rules (g: the gradient plus weightDecay * w for weight matrices; biases are not decayed):
 * - sgd:      w -= lr * g
 * - momentum: v = momentum * v + g; w -= lr * v                        (PyTorch's SGD with momentum)
 * - adam:     m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *             w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + epsilon)   (PyTorch's Adam, t from 1)
 * The learning rate follows `schedule` over the whole run (see learningRateAt in schedule.ts).
 */
export interface OptimizerSpec {
  kind: OptimizerKind;
  learningRate: number;
  /** momentum only; default 0.9. */
  momentum?: number;
  /** adam only; defaults 0.9, 0.999, 1e-8. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** L2 penalty added to the gradient of weight matrices (not biases); default 0. */
  weightDecay?: number;
  /** Default constant. */
  schedule?: ScheduleKind;
  /** Steps of linear warm-up from lr / warmupSteps to lr before the schedule starts; default 0. */
  warmupSteps?: number;
}

export interface TrainOptions {
  head: HeadSpec;
  loss: LossKind;
  optimizer: OptimizerSpec;
  epochs: number;
  /** Examples per step: 1 is stochastic, >= n is full-batch gradient descent. */
  batchSize: number;
  /** Seeds initialisation, shuffling, dropout and the validation split. An unsigned 32-bit integer. */
  seed: number;
  /** Stop after this many epochs without a lower validation loss; needs validation data. */
  earlyStoppingPatience?: number;
  /** Fraction of `train` held out (seeded) when no validation set is given, in (0, 1). */
  validationSplit?: number;
  /**
   * Steps per ONNX Runtime call (an ONNX Loop); default 32. Results do not depend on it; it bounds
   * how far a cancel can lag (a stop takes effect at the end of the current call).
   */
  stepsPerRun?: number;
  /**
   * ONNX Runtime intra-op threads; default 1. A step at batch 64 is a few small matrix products and
   * elementwise passes over the parameters: on the shared 2-core machines bench/train measured one
   * thread faster than two (the second core's waits cost more than its help, even at batch 1024),
   * and one thread leaves the other cores to inference. Results do not depend on it.
   */
  threads?: number;
}

/** Backbone features with labels (cross-entropy) or targets (mse). */
export interface Dataset {
  /** n × inputDim, row-major. */
  features: Float32Array;
  n: number;
  /** Class indices in [0, outputDim), for cross-entropy. */
  labels?: Int32Array;
  /** n × outputDim, row-major, for mse. */
  targets?: Float32Array;
}

/** One dense layer: y = x·weight + bias, weight row-major inputDim × outputDim. */
export interface HeadLayer {
  inputDim: number;
  outputDim: number;
  weight: Float32Array;
  bias: Float32Array;
}

/** A head's parameters, first layer first (one layer for linear, two for mlp). */
export interface HeadWeights {
  layers: HeadLayer[];
}

export interface StepMetrics {
  epoch: number;
  /** Steps done in the whole run, this one included. */
  step: number;
  /** Mean loss over this step's batch, before the update. */
  loss: number;
  learningRate: number;
  batchSize: number;
}

export interface Evaluation {
  loss: number;
  /** cross-entropy only. */
  accuracy?: number;
  /** mse only: the same as loss. */
  mse?: number;
}

export type StopReason = 'completed' | 'early-stopping' | 'cancelled';

export interface EpochMetrics {
  /** Epochs finished in the whole run (1 after the first); a cancelled epoch is not finished. */
  epoch: number;
  step: number;
  /** Mean batch loss over the epoch (weighted by batch size), before each update. */
  trainLoss: number;
  trainAccuracy?: number;
  validation?: Evaluation;
  /** The validation loss is the best so far (its weights are what bestWeights() returns). */
  improved: boolean;
  /** Set when the run is over (completed, early stopping) or this epoch was cut short (cancelled). */
  stopped?: StopReason;
  seconds: number;
}

/**
 * Everything needed to continue a run bit-identically: serializeState() makes bytes of it.
 * `fingerprint` ties it to the options and data shapes it was made with.
 */
export interface TrainerState {
  version: 1;
  fingerprint: string;
  epoch: number;
  step: number;
  /** xoshiro128** words. */
  rng: Uint32Array;
  /** The flat parameter vector (see headLayout). */
  params: Float32Array;
  /**
   * Optimizer moments over the same layout: none (sgd), velocity (momentum), or adam's m / (1 - beta1)
   * and v / (1 - beta2) (see stepScalars).
   */
  moments: Float32Array[];
  /** The current epoch's example order while an epoch is in progress, else undefined. */
  order?: Int32Array;
  /** Examples of `order` already trained on. */
  cursor: number;
  /** Running sums of the epoch in progress. */
  epochLossSum: number;
  epochCorrect: number;
  best?: { params: Float32Array; loss: number; epoch: number };
  epochsWithoutImprovement: number;
  finished?: StopReason;
}

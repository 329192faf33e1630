import type { Dataset, HeadSpec, OptimizerSpec, TrainOptions } from './types.js';

/** A training request that cannot run; `problems` lists every reason, for a 422's details. */
export class TrainingSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid training setup: ${problems.join('; ')}`);
    this.name = 'TrainingSpecError';
  }
}

const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Every problem with the options and data, empty when training can start. */
export function trainingProblems(options: TrainOptions, train: Dataset, validation?: Dataset): string[] {
  const problems = [...headProblems(options.head), ...optimizerProblems(options.optimizer)];
  if (options.loss !== 'cross-entropy' && options.loss !== 'mse') problems.push(`loss must be cross-entropy or mse`);
  if (!positiveInt(options.epochs)) problems.push('epochs must be a positive integer');
  if (!positiveInt(options.batchSize)) problems.push('batchSize must be a positive integer');
  if (!Number.isSafeInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff)
    problems.push('seed must be an integer in [0, 2^32)');
  if (options.stepsPerRun !== undefined && !positiveInt(options.stepsPerRun)) problems.push('stepsPerRun must be a positive integer');
  if (options.threads !== undefined && !positiveInt(options.threads)) problems.push('threads must be a positive integer');
  const split = options.validationSplit;
  if (split !== undefined && !(finite(split) && split > 0 && split < 1)) problems.push('validationSplit must be in (0, 1)');
  if (split !== undefined && validation) problems.push('give a validation set or validationSplit, not both');
  const patience = options.earlyStoppingPatience;
  if (patience !== undefined && !positiveInt(patience)) problems.push('earlyStoppingPatience must be a positive integer');
  if (patience !== undefined && !validation && split === undefined)
    problems.push('early stopping needs a validation set or validationSplit');
  if (problems.length > 0) return problems;

  problems.push(...datasetProblems('train', train, options));
  if (validation) problems.push(...datasetProblems('validation', validation, options));
  if (split !== undefined && problems.length === 0) {
    const held = validationCount(train.n, split);
    if (held < 1 || held >= train.n)
      problems.push(`validationSplit ${split} of ${train.n} examples leaves no training or no validation examples`);
  }
  return problems;
}

export function validationCount(n: number, split: number): number {
  return Math.round(n * split);
}

function headProblems(head: HeadSpec): string[] {
  const problems: string[] = [];
  if (head.kind !== 'linear' && head.kind !== 'mlp') problems.push('head.kind must be linear or mlp');
  if (!positiveInt(head.inputDim)) problems.push('head.inputDim must be a positive integer');
  if (!positiveInt(head.outputDim)) problems.push('head.outputDim must be a positive integer');
  if (head.kind === 'mlp' && !positiveInt(head.hidden)) problems.push('an mlp head needs hidden, a positive integer');
  if (head.kind === 'linear' && (head.hidden !== undefined || head.activation !== undefined))
    problems.push('a linear head has no hidden layer or activation');
  if (head.activation !== undefined && !['relu', 'gelu', 'tanh'].includes(head.activation))
    problems.push('head.activation must be relu, gelu or tanh');
  if (head.dropout !== undefined && !(finite(head.dropout) && head.dropout >= 0 && head.dropout < 1))
    problems.push('head.dropout must be in [0, 1)');
  return problems;
}

function optimizerProblems(o: OptimizerSpec): string[] {
  const problems: string[] = [];
  if (!['sgd', 'momentum', 'adam'].includes(o.kind)) problems.push('optimizer.kind must be sgd, momentum or adam');
  if (!(finite(o.learningRate) && o.learningRate > 0)) problems.push('optimizer.learningRate must be positive');
  const unit = (name: keyof OptimizerSpec, lowOpen = false) => {
    const v = o[name];
    if (v !== undefined && !(finite(v) && (lowOpen ? v > 0 : v >= 0) && v < 1))
      problems.push(`optimizer.${name} must be in ${lowOpen ? '(0' : '[0'}, 1)`);
  };
  unit('momentum');
  unit('beta1');
  unit('beta2');
  if (o.epsilon !== undefined && !(finite(o.epsilon) && o.epsilon > 0)) problems.push('optimizer.epsilon must be positive');
  if (o.weightDecay !== undefined && !(finite(o.weightDecay) && o.weightDecay >= 0)) problems.push('optimizer.weightDecay must be >= 0');
  if (o.schedule !== undefined && !['constant', 'linear', 'cosine'].includes(o.schedule))
    problems.push('optimizer.schedule must be constant, linear or cosine');
  if (o.warmupSteps !== undefined && !(Number.isSafeInteger(o.warmupSteps) && o.warmupSteps >= 0))
    problems.push('optimizer.warmupSteps must be a non-negative integer');
  return problems;
}

export function datasetProblems(label: string, d: Dataset, options: TrainOptions): string[] {
  const { inputDim, outputDim } = options.head;
  const problems: string[] = [];
  if (!positiveInt(d.n)) return [`${label}: n must be a positive integer`];
  if (!(d.features instanceof Float32Array) || d.features.length !== d.n * inputDim)
    problems.push(`${label}: features must be a Float32Array of n × inputDim = ${d.n * inputDim} values`);
  if (options.loss === 'cross-entropy') {
    if (!(d.labels instanceof Int32Array) || d.labels.length !== d.n)
      problems.push(`${label}: cross-entropy needs labels, an Int32Array of n class indices`);
    else if (d.labels.some((l) => l < 0 || l >= outputDim)) problems.push(`${label}: labels must be in [0, ${outputDim})`);
  } else if (!(d.targets instanceof Float32Array) || d.targets.length !== d.n * outputDim) {
    problems.push(`${label}: mse needs targets, a Float32Array of n × outputDim = ${d.n * outputDim} values`);
  }
  if (problems.length === 0 && !d.features.every(Number.isFinite)) problems.push(`${label}: features must be finite`);
  if (problems.length === 0 && d.targets && !d.targets.every(Number.isFinite)) problems.push(`${label}: targets must be finite`);
  return problems;
}

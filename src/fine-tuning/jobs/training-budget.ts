/**
 * Training budgets: what a job will hold and compute, known from its files' validation reports,
 * the backbone's manifest and the resolved hyperparameters, checked before the job is created so
 * a job that would exhaust the machine is refused with the numbers instead of killing the process.
 */
import type { TrainingBudget } from '../../config/app-config.js';
import type { ResolvedHyperparameters } from './hyperparameters.js';

export interface TrainingSize {
  /** Examples in the training and validation files. */
  rows: number;
  /** Examples an epoch steps through: the training file less any held-out split. */
  trainingExamples: number;
  /** Classes (classification) or target values (regression): the head's outputs. */
  outputs: number;
  /** The backbone's feature length; undefined when its manifest does not say. */
  featureDim?: number;
}

export interface BudgetExcess {
  what: 'rows' | 'classes' | 'feature_bytes' | 'head_params' | 'step_values' | 'steps';
  value: number;
  limit: number;
  variable: string;
}

/** Weights and biases of the head the hyperparameters describe, over `dim` features and `outputs` outputs. */
export function headParams(hp: Pick<ResolvedHyperparameters, 'head' | 'hidden'>, dim: number, outputs: number): number {
  if (hp.head === 'mlp') return dim * hp.hidden! + hp.hidden! + hp.hidden! * outputs + outputs;
  return dim * outputs + outputs;
}

/**
 * Activations of one training step: batch × (outputs + hidden units). A call of several steps is
 * sized to stay under about the same (train-options.ts), so this bounds the logits and gradients
 * ONNX Runtime allocates per call, which a large batch over many classes would otherwise blow up.
 */
export function stepValues(hp: Pick<ResolvedHyperparameters, 'head' | 'hidden' | 'batch_size'>, outputs: number, rows: number): number {
  // The trainer's batch is never larger than the data.
  return Math.min(hp.batch_size, rows) * (outputs + (hp.head === 'mlp' ? hp.hidden! : 0));
}

/**
 * Optimizer steps of the whole job, as the trainer takes them: every epoch steps through the
 * training examples a batch at a time. Each step is one stored metrics row.
 */
export function trainingSteps(hp: Pick<ResolvedHyperparameters, 'batch_size' | 'n_epochs'>, trainingExamples: number): number {
  const n = Math.max(1, trainingExamples);
  return Math.ceil(n / Math.min(hp.batch_size, n)) * hp.n_epochs;
}

/** The first budget `size` passes, in the order a client can act on (rows, classes, then what follows from them). */
export function budgetExcess(
  size: TrainingSize,
  hp: Pick<ResolvedHyperparameters, 'head' | 'hidden' | 'batch_size' | 'n_epochs'>,
  classification: boolean,
  budget: TrainingBudget,
): BudgetExcess | undefined {
  const checks: Array<[BudgetExcess['what'], number | undefined, number, string]> = [
    ['rows', size.rows, budget.maxRows, 'LATHE_TRAINING_MAX_ROWS'],
    ['classes', classification ? size.outputs : undefined, budget.maxClasses, 'LATHE_TRAINING_MAX_CLASSES'],
    ['feature_bytes', size.featureDim && size.rows * size.featureDim * 4, budget.maxFeatureBytes, 'LATHE_TRAINING_MAX_FEATURE_BYTES'],
    [
      'head_params',
      size.featureDim && headParams(hp, size.featureDim, size.outputs),
      budget.maxHeadParams,
      'LATHE_TRAINING_MAX_HEAD_PARAMS',
    ],
    ['step_values', stepValues(hp, size.outputs, size.rows), budget.maxStepValues, 'LATHE_TRAINING_MAX_STEP_VALUES'],
    ['steps', trainingSteps(hp, size.trainingExamples), budget.maxSteps, 'LATHE_TRAINING_MAX_STEPS'],
  ];
  for (const [what, value, limit, variable] of checks) {
    if (value !== undefined && value > limit) return { what, value, limit, variable };
  }
  return undefined;
}

const WHAT: Record<BudgetExcess['what'], string> = {
  rows: 'examples',
  classes: 'classes',
  feature_bytes: 'bytes of backbone features',
  head_params: 'head parameters',
  step_values: 'values in one training step (batch_size × (outputs + hidden units))',
  steps: 'training steps (n_epochs × training examples / batch_size, each one stored metrics row)',
};

export function budgetMessage(e: BudgetExcess): string {
  return `the job would have ${e.value} ${WHAT[e.what]}; this server's limit is ${e.limit} (${e.variable})`;
}

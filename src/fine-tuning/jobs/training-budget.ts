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
  /** Classes (classification) or target values (regression): the head's outputs. */
  outputs: number;
  /** The backbone's feature length; undefined when its manifest does not say. */
  featureDim?: number;
}

export interface BudgetExcess {
  what: 'rows' | 'classes' | 'feature_bytes' | 'head_params' | 'step_values';
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

/** The first budget `size` passes, in the order a client can act on (rows, classes, then what follows from them). */
export function budgetExcess(
  size: TrainingSize,
  hp: Pick<ResolvedHyperparameters, 'head' | 'hidden' | 'batch_size'>,
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
};

export function budgetMessage(e: BudgetExcess): string {
  return `the job would have ${e.value} ${WHAT[e.what]}; this server's limit is ${e.limit} (${e.variable})`;
}

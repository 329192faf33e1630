/**
 * A job's hyperparameters: OpenAI's three (`n_epochs`, `batch_size`, `learning_rate_multiplier`,
 * each a number or "auto") plus Lathe's head, loss, optimizer and schedule. Validated when the job
 * is created and resolved there against the training file, so the job records what it will run.
 */
import { z } from 'zod';
import type { Activation, LossKind, OptimizerKind, ScheduleKind } from '../../training/types.js';
import type { DatasetTask } from '../files/dataset-parser.js';

const auto = z.literal('auto');
const orAuto = <T extends z.ZodType>(schema: T) => z.union([auto, schema]).nullish();

export const hyperparametersSchema = z
  .object({
    n_epochs: orAuto(z.number().int().min(1).max(1000)),
    batch_size: orAuto(z.number().int().min(1).max(65_536)),
    learning_rate_multiplier: orAuto(z.number().gt(0).max(100)),
    head: z.enum(['linear', 'mlp']).optional(),
    hidden: z.number().int().min(1).max(4096).optional(),
    activation: z.enum(['relu', 'gelu', 'tanh']).optional(),
    dropout: z.number().min(0).max(0.9).optional(),
    loss: z.enum(['cross-entropy', 'mse']).optional(),
    optimizer: z.enum(['sgd', 'momentum', 'adam']).optional(),
    momentum: z.number().min(0).lt(1).optional(),
    learning_rate: z.number().gt(0).max(10).optional(),
    schedule: z.enum(['constant', 'linear', 'cosine']).optional(),
    warmup_steps: z.number().int().min(0).max(1_000_000).optional(),
    weight_decay: z.number().min(0).max(1).optional(),
    early_stopping_patience: z.number().int().min(1).max(1000).optional(),
    validation_split: z.number().min(0).max(0.5).optional(),
  })
  .strict();

export type HyperparametersInput = z.infer<typeof hyperparametersSchema>;

/** What a job runs with; returned in the job object as `hyperparameters`. */
export interface ResolvedHyperparameters {
  n_epochs: number;
  batch_size: number;
  learning_rate_multiplier: number;
  head: 'linear' | 'mlp';
  hidden?: number;
  activation?: Activation;
  dropout: number;
  loss: LossKind;
  optimizer: OptimizerKind;
  momentum?: number;
  learning_rate: number;
  schedule: ScheduleKind;
  warmup_steps: number;
  weight_decay: number;
  early_stopping_patience?: number;
  /** 0 when a validation file is given (or the dataset is too small to hold any out). */
  validation_split: number;
}

/** The learning rate a multiplier of 1 gives, per optimizer. */
export const BASE_LEARNING_RATE: Readonly<Record<OptimizerKind, number>> = { sgd: 0.5, momentum: 0.05, adam: 0.01 };
const DEFAULT_HIDDEN = 128;
/** Without a validation file, this fraction is held out so the job can report held-out metrics. */
export const DEFAULT_VALIDATION_SPLIT = 0.2;
const MIN_EXAMPLES_FOR_DEFAULT_SPLIT = 10;

export interface ResolveContext {
  task: DatasetTask;
  /** Usable examples in the training file. */
  examples: number;
  hasValidationFile: boolean;
}

/** Resolves "auto" and the defaults, or lists every problem (field and message) with the combination. */
export function resolveHyperparameters(
  input: HyperparametersInput,
  ctx: ResolveContext,
): { value?: ResolvedHyperparameters; problems: Array<{ field: string; problems: string[] }> } {
  const problems: Array<{ field: string; problems: string[] }> = [];
  const fail = (field: string, message: string) => problems.push({ field: `hyperparameters.${field}`, problems: [message] });
  const head = input.head ?? (input.hidden !== undefined || input.activation !== undefined ? 'mlp' : 'linear');
  if (head === 'linear' && input.hidden !== undefined) fail('hidden', 'hidden is for an mlp head; set head to "mlp"');
  if (head === 'linear' && input.activation !== undefined) fail('activation', 'activation is for an mlp head; set head to "mlp"');
  const expectedLoss: LossKind = ctx.task === 'classification' ? 'cross-entropy' : 'mse';
  const loss = input.loss ?? expectedLoss;
  if (loss !== expectedLoss) fail('loss', `the training file is labelled for ${ctx.task}, which trains with ${expectedLoss}, not ${loss}`);
  const optimizer = input.optimizer ?? 'adam';
  if (input.momentum !== undefined && optimizer !== 'momentum') fail('momentum', 'momentum is for optimizer "momentum"');
  const multiplier = input.learning_rate_multiplier;
  if (input.learning_rate !== undefined && typeof multiplier === 'number')
    fail('learning_rate', 'give learning_rate or learning_rate_multiplier, not both');
  let split = input.validation_split;
  if (ctx.hasValidationFile && split !== undefined && split > 0)
    fail(
      'validation_split',
      'a validation file is given; validation_split holds out part of the training file instead, so give one or the other',
    );
  split ??= ctx.hasValidationFile || ctx.examples < MIN_EXAMPLES_FOR_DEFAULT_SPLIT ? 0 : DEFAULT_VALIDATION_SPLIT;
  const held = Math.round(ctx.examples * split);
  if (split > 0 && (held < 1 || held >= ctx.examples))
    fail('validation_split', `holding out ${split} of ${ctx.examples} examples leaves no training or no validation examples`);
  if (input.early_stopping_patience !== undefined && !ctx.hasValidationFile && split === 0) {
    fail('early_stopping_patience', 'early stopping needs held-out data: give a validation_file or a validation_split');
  }
  if (problems.length > 0) return { problems };
  const trainExamples = Math.max(1, ctx.examples - held);
  const base = BASE_LEARNING_RATE[optimizer];
  const learningRate = input.learning_rate ?? base * (typeof multiplier === 'number' ? multiplier : 1);
  const value: ResolvedHyperparameters = {
    n_epochs: typeof input.n_epochs === 'number' ? input.n_epochs : autoEpochs(trainExamples),
    batch_size: typeof input.batch_size === 'number' ? input.batch_size : Math.min(32, trainExamples),
    learning_rate_multiplier: round(learningRate / base),
    head,
    ...(head === 'mlp' ? { hidden: input.hidden ?? DEFAULT_HIDDEN, activation: input.activation ?? 'relu' } : {}),
    dropout: input.dropout ?? 0,
    loss,
    optimizer,
    ...(optimizer === 'momentum' ? { momentum: input.momentum ?? 0.9 } : {}),
    learning_rate: learningRate,
    schedule: input.schedule ?? 'constant',
    warmup_steps: input.warmup_steps ?? 0,
    weight_decay: input.weight_decay ?? 0,
    ...(input.early_stopping_patience !== undefined ? { early_stopping_patience: input.early_stopping_patience } : {}),
    validation_split: split,
  };
  return { value, problems };
}

/** Small datasets get more passes: about 4,000 example visits, between 3 and 50 epochs. */
function autoEpochs(examples: number): number {
  return Math.min(50, Math.max(3, Math.ceil(4000 / examples)));
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

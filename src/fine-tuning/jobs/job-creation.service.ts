import { randomInt } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { z } from 'zod';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { validationCount } from '../../training/options.js';
import { type ValidationReport } from '../files/dataset-parser.js';
import { type FileRow, FilesRepository } from '../files/files.repository.js';
import { FineTuningDb } from '../fine-tuning-db.js';
import { isId, newId } from '../ids.js';
import { parseOr400, sqlText } from '../pagination.js';
import { JobQueue } from '../queue/job-queue.service.js';
import { type Backbone, BackbonesService } from '../runner/backbones.service.js';
import { JobEventsRepository } from './job-events.repository.js';
import { type FineTuningJobObject, toJobObject } from './job.mapper.js';
import { hyperparametersSchema, resolveHyperparameters } from './hyperparameters.js';
import { JobsRepository } from './jobs.repository.js';
import { budgetExcess, budgetMessage } from './training-budget.js';

const MAX_SEED = 0xffffffff;

export const createJob = z
  .object({
    model: sqlText().min(1).max(200),
    // Checked against the id form in checkFile: one that cannot exist is the same 404 as a missing one.
    training_file: z.string().min(1).max(200),
    validation_file: z.string().min(1).max(200).nullish(),
    suffix: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'suffix: 1 to 64 letters, digits, ".", "_" or "-"')
      .nullish(),
    seed: z.number().int().min(0).max(MAX_SEED).nullish(),
    hyperparameters: hyperparametersSchema.optional(),
    method: z
      .object({
        type: z.literal('supervised', { error: 'Lathe trains supervised heads: method.type must be "supervised"' }),
        supervised: z.object({ hyperparameters: hyperparametersSchema.optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    integrations: z.array(z.unknown()).max(0, 'integrations (Weights & Biases) are not supported').nullish(),
    metadata: z
      .record(sqlText().min(1).max(64), sqlText().max(512))
      .refine((m) => Object.keys(m).length <= 16, 'metadata has at most 16 keys')
      .nullish(),
  })
  .strict();

type CreateJob = z.infer<typeof createJob>;

interface CheckedFile {
  row: FileRow;
  report: ValidationReport;
}

/**
 * POST /v1/fine_tuning/jobs: every check runs before anything is written (unknown backbone 404,
 * missing file 404, a file with errors or one class 400 with its report, hyperparameters out of
 * range 400); then the job, its first events and its queue message land in one transaction.
 */
@Injectable()
export class JobCreationService {
  constructor(
    private readonly db: FineTuningDb,
    private readonly files: FilesRepository,
    private readonly backbones: BackbonesService,
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly queue: JobQueue,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async create(body: unknown): Promise<FineTuningJobObject> {
    const request = parseOr400(createJob, body, 'request');
    const backbone = this.backbones.resolve(request.model);
    const training = await this.checkFile(request.training_file, 'training_file', backbone);
    const validation = request.validation_file ? await this.checkFile(request.validation_file, 'validation_file', backbone) : undefined;
    if (validation) checkCompatible(training.report, validation.report);
    const task = training.report.task!;
    const { value: hyperparameters, problems } = resolveHyperparameters(hyperparametersOf(request), {
      task,
      examples: training.report.examples,
      hasValidationFile: validation !== undefined,
    });
    if (!hyperparameters)
      throw new AppError(
        ErrorCode.ValidationFailed,
        `invalid hyperparameters: ${problems.map((p) => `${p.field}: ${p.problems[0]}`).join('; ')}`,
        problems,
      );
    const report = training.report;
    const size = {
      rows: report.examples + (validation?.report.examples ?? 0),
      trainingExamples: report.examples - validationCount(report.examples, hyperparameters.validation_split),
      outputs: task === 'classification' ? report.classes! : report.target_dim!,
      featureDim: backbone.featureDim,
    };
    const excess = budgetExcess(size, hyperparameters, task === 'classification', this.config.fineTuning.budget);
    if (excess) throw new AppError(ErrorCode.TrainingBudgetExceeded, budgetMessage(excess), excess);
    const id = newId('ftjob');
    const row = await this.db.transaction(async (tx) => {
      const job = await this.jobs.insert(
        {
          id,
          model: backbone.name,
          modelVersion: backbone.version,
          suffix: request.suffix ?? null,
          seed: request.seed ?? randomInt(0, 2 ** 31),
          trainingFile: training.row.id,
          validationFile: validation?.row.id ?? null,
          hyperparameters,
          metadata: request.metadata ?? null,
          task,
        },
        'queued',
        tx,
      );
      await this.events.add(id, { message: `Created fine-tuning job: ${id}` }, tx);
      await this.events.add(
        id,
        { message: `Validating training file: ${training.row.id}${validation ? ` and validation file: ${validation.row.id}` : ''}` },
        tx,
      );
      await this.events.add(
        id,
        {
          message: `Files validated (${describe(training.report)}), moving job to queued state`,
          data: { task, examples: training.report.examples, labels: training.report.labels },
        },
        tx,
      );
      const messageId = await this.queue.send(id, tx);
      await this.jobs.setQueueJob(id, messageId, tx);
      return { ...job, queueJobId: messageId };
    });
    this.queue.wake();
    return toJobObject(row);
  }

  private async checkFile(id: string, param: string, backbone: Backbone): Promise<CheckedFile> {
    // An id that cannot exist is not looked up (a NUL would make Postgres fail): the same 404.
    const row = isId('file', id) ? await this.files.find(id) : undefined;
    if (!row) throw new AppError(ErrorCode.NotFound, `${param}: no file with id "${id}"`, { param });
    if (row.purpose !== 'fine-tune' || !row.validation)
      throw new AppError(ErrorCode.ValidationFailed, `${param}: file ${id} has purpose "${row.purpose}", not "fine-tune"`, [
        { field: param, problems: ['not a fine-tuning dataset'] },
      ]);
    const report = row.validation;
    if (!report.valid) {
      const first = report.errors[0];
      const where = first?.line !== undefined ? `line ${first.line}: ` : '';
      throw new AppError(
        ErrorCode.DatasetInvalid,
        `${param} ${id} cannot be trained on: ${report.error_count} problem(s), first ${where}${first?.message}`,
        { param, validation: report },
      );
    }
    if (report.input_kind !== backbone.input) {
      throw new AppError(
        ErrorCode.DatasetInvalid,
        `${param} ${id} has ${report.input_kind} inputs; backbone "${backbone.name}" takes ${backbone.input}`,
        { param, validation: report },
      );
    }
    return { row, report };
  }
}

function hyperparametersOf(request: CreateJob) {
  const nested = request.method?.supervised?.hyperparameters;
  if (nested && request.hyperparameters) {
    throw new AppError(ErrorCode.ValidationFailed, 'give hyperparameters or method.supervised.hyperparameters, not both', [
      { field: 'hyperparameters', problems: ['given twice'] },
    ]);
  }
  return nested ?? request.hyperparameters ?? {};
}

/** A validation file must be the same task over the same kind of input, with no label the training file lacks. */
function checkCompatible(training: ValidationReport, validation: ValidationReport): void {
  const fail = (message: string) => {
    throw new AppError(ErrorCode.DatasetInvalid, `validation_file: ${message}`, { param: 'validation_file', validation });
  };
  if (validation.task !== training.task) fail(`it is labelled for ${validation.task}, the training file for ${training.task}`);
  if (validation.input_kind !== training.input_kind)
    fail(`its inputs are ${validation.input_kind}, the training file's ${training.input_kind}`);
  if (training.task === 'regression' && validation.target_dim !== training.target_dim)
    fail(`its targets have ${validation.target_dim} values, the training file's ${training.target_dim}`);
  const unknown = Object.keys(validation.labels ?? {}).filter((l) => !(l in (training.labels ?? {})));
  if (unknown.length > 0) fail(`it has labels the training file does not: ${unknown.slice(0, 10).join(', ')}`);
}

function describe(report: ValidationReport): string {
  if (report.task === 'regression') return `${report.examples} examples, regression to ${report.target_dim} value(s)`;
  return `${report.examples} examples, ${report.classes} classes`;
}

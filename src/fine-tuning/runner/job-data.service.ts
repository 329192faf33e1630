import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { Dataset } from '../../training/types.js';
import { type Example, labelMap, parseDataset, type ValidationReport } from '../files/dataset-parser.js';
import { FilesRepository } from '../files/files.repository.js';
import type { JobRow } from '../jobs/jobs.repository.js';
import { type Backbone, BackbonesService } from './backbones.service.js';
import { BackboneFeaturesService, type FeatureSet } from './backbone-features.service.js';

/** What a job trains on: features with labels (or targets), and where they came from. */
export interface JobData {
  backbone: Backbone;
  backboneSha256: string;
  trainingFileSha256: string;
  train: Dataset;
  validation?: Dataset;
  /** Class names by index (the training file's labels, sorted); empty for regression. */
  labels: string[];
  inputDim: number;
  outputDim: number;
  /** Tokens in the training texts (for trained_tokens). */
  trainTokens: number;
  featureNotes: string[];
}

/** Loads a job's files, checks them again (they were valid at creation) and computes their features. */
@Injectable()
export class JobDataService {
  constructor(
    private readonly files: FilesRepository,
    private readonly backbones: BackbonesService,
    private readonly features: BackboneFeaturesService,
  ) {}

  async load(job: JobRow, shouldStop: () => boolean): Promise<JobData> {
    const backbone = this.backbones.resolve(job.model);
    const backboneSha256 = await this.backbones.sha256(backbone);
    const training = await this.examples(job.trainingFile, 'training_file');
    const labels = job.task === 'classification' ? labelMap(training.report) : [];
    const outputDim = job.task === 'classification' ? labels.length : training.report.target_dim!;
    const trainSet = await this.features.features(backbone, backboneSha256, training.examples, shouldStop);
    const notes = [featureNote('training', backbone, trainSet)];
    const data: JobData = {
      backbone,
      backboneSha256,
      trainingFileSha256: training.sha256,
      train: toDataset(training.examples, trainSet, labels, outputDim),
      labels,
      inputDim: trainSet.dim,
      outputDim,
      trainTokens: trainSet.tokens,
      featureNotes: notes,
    };
    if (job.validationFile) {
      const validation = await this.examples(job.validationFile, 'validation_file');
      const validSet = await this.features.features(backbone, backboneSha256, validation.examples, shouldStop);
      notes.push(featureNote('validation', backbone, validSet));
      data.validation = toDataset(validation.examples, validSet, labels, outputDim);
    }
    return data;
  }

  private async examples(fileId: string, param: string): Promise<{ examples: Example[]; report: ValidationReport; sha256: string }> {
    const row = await this.files.find(fileId);
    const content = row && (await this.files.content(row));
    if (!row || !content) throw new AppError(ErrorCode.NotFound, `${param} ${fileId} was deleted before the job ran`, { param });
    const parsed = parseDataset(content);
    if (!parsed.jsonl || !parsed.report.valid) {
      throw new AppError(ErrorCode.DatasetInvalid, `${param} ${fileId} has errors`, {
        param,
        validation: parsed.jsonl ? parsed.report : parsed.errors,
      });
    }
    return { examples: parsed.examples, report: parsed.report, sha256: row.sha256 };
  }
}

function featureNote(which: string, backbone: Backbone, set: FeatureSet): string {
  return set.cached
    ? `Reused cached ${backbone.name} features of the ${which} file (${set.rows} × ${set.dim})`
    : `Computed ${backbone.name} features of the ${which} file (${set.rows} × ${set.dim}, ${set.tokens} tokens)`;
}

function toDataset(examples: readonly Example[], set: FeatureSet, labels: readonly string[], outputDim: number): Dataset {
  if (labels.length > 0) {
    const index = new Map(labels.map((l, i) => [l, i]));
    const ids = examples.map((e) => index.get(e.label!));
    if (ids.some((i) => i === undefined)) {
      const unknown = examples.find((e) => !index.has(e.label!))!.label;
      throw new AppError(ErrorCode.DatasetInvalid, `the validation file has the label "${unknown}", which the training file does not`);
    }
    return { features: set.features, n: set.rows, labels: Int32Array.from(ids as number[]) };
  }
  const targets = new Float32Array(examples.length * outputDim);
  examples.forEach((e, i) => targets.set(e.target!, i * outputDim));
  return { features: set.features, n: set.rows, targets };
}

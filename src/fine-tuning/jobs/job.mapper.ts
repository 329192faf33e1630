import { unixSeconds } from '../ids.js';
import type { EventRow } from './job-events.repository.js';
import type { CheckpointRow } from './job-metrics.repository.js';
import type { ResolvedHyperparameters } from './hyperparameters.js';
import type { FinalMetrics, JobError, JobRow } from './jobs.repository.js';
import type { JobStatus } from './job-state.js';
import { checkpointModelName } from '../models/model-names.js';

export const ORGANIZATION_ID = 'org-lathe';

/** OpenAI's fine_tuning.job, plus Lathe's `metrics`, `head_artifact_id` and `model_version`. */
export interface FineTuningJobObject {
  id: string;
  object: 'fine_tuning.job';
  model: string;
  created_at: number;
  finished_at: number | null;
  fine_tuned_model: string | null;
  organization_id: string;
  result_files: string[];
  status: JobStatus;
  validation_file: string | null;
  training_file: string;
  hyperparameters: ResolvedHyperparameters;
  trained_tokens: number | null;
  error: JobError | null;
  seed: number;
  estimated_finish: number | null;
  integrations: [];
  metadata: Record<string, string> | null;
  user_provided_suffix: string | null;
  method: {
    type: 'supervised';
    supervised: { hyperparameters: Pick<ResolvedHyperparameters, 'n_epochs' | 'batch_size' | 'learning_rate_multiplier'> };
  };
  model_version: string;
  metrics: FinalMetrics | null;
  head_artifact_id: string | null;
}

export function toJobObject(row: JobRow): FineTuningJobObject {
  const hp = row.hyperparameters;
  return {
    id: row.id,
    object: 'fine_tuning.job',
    model: row.model,
    created_at: unixSeconds(row.createdAt),
    finished_at: row.finishedAt ? unixSeconds(row.finishedAt) : null,
    fine_tuned_model: row.fineTunedModel,
    organization_id: ORGANIZATION_ID,
    result_files: row.resultFiles,
    status: row.status,
    validation_file: row.validationFile,
    training_file: row.trainingFile,
    hyperparameters: hp,
    trained_tokens: row.trainedTokens,
    error: row.status === 'failed' ? row.error : null,
    seed: row.seed,
    estimated_finish: row.status === 'running' && row.estimatedFinish ? unixSeconds(row.estimatedFinish) : null,
    integrations: [],
    metadata: row.metadata,
    user_provided_suffix: row.suffix,
    method: {
      type: 'supervised',
      supervised: {
        hyperparameters: { n_epochs: hp.n_epochs, batch_size: hp.batch_size, learning_rate_multiplier: hp.learning_rate_multiplier },
      },
    },
    model_version: row.modelVersion,
    metrics: row.finalMetrics,
    head_artifact_id: row.headArtifactId,
  };
}

export interface JobEventObject {
  id: string;
  object: 'fine_tuning.job.event';
  created_at: number;
  level: EventRow['level'];
  message: string;
  data: Record<string, unknown>;
  type: EventRow['type'];
}

export function toEventObject(row: EventRow): JobEventObject {
  return {
    id: row.id,
    object: 'fine_tuning.job.event',
    created_at: unixSeconds(row.createdAt),
    level: row.level,
    message: row.message,
    data: row.data ?? {},
    type: row.type,
  };
}

export interface CheckpointObject {
  id: string;
  object: 'fine_tuning.job.checkpoint';
  created_at: number;
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  metrics: Record<string, number>;
  step_number: number;
  /** Lathe: the epoch it ends, and the trainer state's artifact (GET /v1/artifacts/{id}). */
  epoch: number;
  artifact_id: string;
}

export function toCheckpointObject(row: CheckpointRow, modelName: string): CheckpointObject {
  return {
    id: row.id,
    object: 'fine_tuning.job.checkpoint',
    created_at: unixSeconds(row.createdAt),
    fine_tuned_model_checkpoint: checkpointModelName(modelName, row.stepNumber),
    fine_tuning_job_id: row.jobId,
    metrics: row.metrics,
    step_number: row.stepNumber,
    epoch: row.epoch,
    artifact_id: row.artifactId,
  };
}

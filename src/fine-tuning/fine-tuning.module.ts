import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { NlpModule } from '../nlp/nlp.module.js';
import { ArtifactsController } from './artifacts/artifacts.controller.js';
import { ArtifactsRepository } from './artifacts/artifacts.repository.js';
import { ArtifactsService } from './artifacts/artifacts.service.js';
import { FilesController } from './files/files.controller.js';
import { FilesRepository } from './files/files.repository.js';
import { FilesService } from './files/files.service.js';
import { JobCreationService } from './jobs/job-creation.service.js';
import { JobEventsRepository } from './jobs/job-events.repository.js';
import { JobMetricsRepository } from './jobs/job-metrics.repository.js';
import { JobsController } from './jobs/jobs.controller.js';
import { JobsRepository } from './jobs/jobs.repository.js';
import { JobsService } from './jobs/jobs.service.js';
import { FineTunedModelsModule } from './models/fine-tuned-models.module.js';
import { FineTuningWorker } from './queue/fine-tuning-worker.service.js';
import { JobQueue } from './queue/job-queue.service.js';
import { LeaseSweeper } from './queue/lease-sweeper.service.js';
import { BackboneFeaturesService } from './runner/backbone-features.service.js';
import { BackbonesService } from './runner/backbones.service.js';
import { CheckpointsService } from './runner/checkpoints.service.js';
import { FeaturesRepository } from './runner/features.repository.js';
import { JobDataService } from './runner/job-data.service.js';
import { JobResultsService } from './runner/job-results.service.js';
import { JobRunner } from './runner/job-runner.service.js';
import { JobSignals } from './runner/job-signals.js';
import { JobTrainingService } from './runner/job-training.service.js';
import { START_TRAINING, startTrainingWorker } from './runner/training-session.js';
import { FineTunedModelSource } from './models/fine-tuned-model-source.js';
import { FineTunedModelsController } from './models/fine-tuned-models.controller.js';
import { ModelDeletionService } from './models/model-deletion.service.js';
import { VisionModule } from '../vision/vision.module.js';

/**
 * OpenAI's files and fine-tuning jobs APIs over Postgres: datasets, jobs on a pg-boss queue run by
 * any replica, checkpoints and artifacts. The registry of fine-tuned models the jobs write is
 * FineTunedModelsModule, re-exported here.
 */
@Module({
  imports: [ModelsModule, NlpModule, VisionModule, FineTunedModelsModule],
  controllers: [FilesController, JobsController, ArtifactsController, FineTunedModelsController],
  providers: [
    FilesRepository,
    FilesService,
    JobsRepository,
    JobEventsRepository,
    JobMetricsRepository,
    JobsService,
    JobCreationService,
    ArtifactsRepository,
    ArtifactsService,
    FeaturesRepository,
    BackbonesService,
    BackboneFeaturesService,
    JobDataService,
    CheckpointsService,
    JobResultsService,
    JobTrainingService,
    JobSignals,
    JobRunner,
    JobQueue,
    LeaseSweeper,
    FineTuningWorker,
    FineTunedModelSource,
    ModelDeletionService,
    { provide: START_TRAINING, useValue: startTrainingWorker },
  ],
  exports: [FineTunedModelsModule],
})
export class FineTuningModule {}

import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiEndpoint } from '../../common/openapi/api-endpoint.decorator.js';
import { LifecycleService } from '../../lifecycle/lifecycle.service.js';
import { CHECKPOINT_EXAMPLE, EVENT_EXAMPLE, FILE_EXAMPLE, JOB_EXAMPLE } from '../openapi-examples.js';
import { createJob, JobCreationService } from './job-creation.service.js';
import { streamEvents } from './job-events-stream.js';
import { checkpointsQuery, eventsQuery, JobsService, jobsQuery } from './jobs.service.js';
import { IdParam, idParams } from '../id-param.pipe.js';

const list = <T>(item: T) => ({ object: 'list', data: [item], has_more: false });

@ApiTags('Fine-tuning')
@Controller('v1/fine_tuning/jobs')
export class JobsController {
  constructor(
    private readonly creation: JobCreationService,
    private readonly jobs: JobsService,
    private readonly lifecycle: LifecycleService,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiEndpoint({
    body: createJob,
    bodyExample: { model: 'glove-100d', training_file: FILE_EXAMPLE.id, suffix: 'topics', hyperparameters: { n_epochs: 3 } },
    summary: "Create a fine-tuning job (OpenAI's API): train a head on a backbone's features",
    description:
      '`model` is the backbone (a text encoder in the repository, e.g. glove-100d); `training_file` (and `validation_file`) are uploaded datasets. ' +
      '`hyperparameters`: OpenAI\'s `n_epochs`, `batch_size`, `learning_rate_multiplier` (each a number or "auto") and Lathe\'s `head` (linear | mlp, ' +
      'with `hidden`, `activation` relu | gelu | tanh, `dropout`), `loss` (cross-entropy | mse, from the labels), `optimizer` (sgd | momentum | adam, ' +
      '`momentum`), `learning_rate`, `schedule` (constant | linear | cosine, `warmup_steps`), `weight_decay`, `early_stopping_patience`, ' +
      '`validation_split` (default 0.2 without a validation file). Everything is checked before the job is created. The result is served as ' +
      '`ft:<model>:<suffix>:<job id>`.',
    auth: 'train',
    errors: [
      ErrorCode.ValidationFailed,
      ErrorCode.DatasetInvalid,
      ErrorCode.TrainingBudgetExceeded,
      ErrorCode.NotFound,
      ErrorCode.ModelNotFound,
      ErrorCode.ModelNotInstalled,
    ],
    ok: {
      example: {
        ...JOB_EXAMPLE,
        status: 'queued',
        finished_at: null,
        fine_tuned_model: null,
        result_files: [],
        trained_tokens: null,
        metrics: null,
        head_artifact_id: null,
      },
    },
  })
  createFineTuningJob(@Body() body: unknown) {
    return this.creation.create(body);
  }

  @Get()
  @ApiEndpoint({
    query: jobsQuery,
    summary: 'List fine-tuning jobs, newest first (`after`, `limit`, `metadata[k]=v`)',
    auth: 'train',
    errors: [ErrorCode.ValidationFailed],
    ok: { example: list(JOB_EXAMPLE) },
  })
  listFineTuningJobs(@Query() query: Record<string, unknown>) {
    return this.jobs.list(query);
  }

  @Get(':id')
  @ApiEndpoint({
    params: idParams('ftjob', JOB_EXAMPLE.id),
    summary: 'One fine-tuning job',
    auth: 'train',
    errors: [ErrorCode.NotFound],
    ok: { example: JOB_EXAMPLE },
  })
  retrieveFineTuningJob(@Param('id', IdParam.of('ftjob')) id: string) {
    return this.jobs.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiEndpoint({
    params: idParams('ftjob', JOB_EXAMPLE.id),
    summary: 'Cancel a job that has not finished (409 otherwise); a running job stops at its next step and registers no model',
    auth: 'train',
    errors: [ErrorCode.NotFound, ErrorCode.Conflict],
    ok: { example: { ...JOB_EXAMPLE, status: 'cancelled', fine_tuned_model: null } },
  })
  cancelFineTuningJob(@Param('id', IdParam.of('ftjob')) id: string) {
    return this.jobs.cancel(id);
  }

  @Get(':id/events')
  @ApiProduces('application/json', 'text/event-stream')
  @ApiEndpoint({
    params: idParams('ftjob', JOB_EXAMPLE.id),
    query: eventsQuery,
    summary: "A job's events, newest first (`after`, `limit`); `stream=true` for Server-Sent Events",
    description:
      'With `stream=true`: every event oldest first as `id: <event id>` and `data: <event>`, then new ones as they happen, and `data: [DONE]` when ' +
      'the job has finished. A stream that ends without `[DONE]` (the replica is shutting down) is resumed by reconnecting with the ' +
      '`Last-Event-ID` header set to the last id received: the stream goes on after that event, so none is lost or repeated. An id that ' +
      'names no event of the job is 400 VALIDATION_FAILED.',
    auth: 'train',
    errors: [ErrorCode.NotFound, ErrorCode.ValidationFailed],
    ok: { example: list(EVENT_EXAMPLE) },
  })
  async listFineTuningEvents(
    @Param('id', IdParam.of('ftjob')) id: string,
    @Query() query: Record<string, unknown>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    if (!this.jobs.wantsStream(query)) return reply.send(await this.jobs.listEvents(id, query));
    const start = await this.jobs.streamStart(id, lastEventId);
    await streamEvents(reply, id, start, this.jobs, () => this.lifecycle.draining);
  }

  @Get(':id/checkpoints')
  @ApiEndpoint({
    params: idParams('ftjob', JOB_EXAMPLE.id),
    query: checkpointsQuery,
    summary: "A job's checkpoints (one per epoch), newest first",
    auth: 'train',
    errors: [ErrorCode.NotFound, ErrorCode.ValidationFailed],
    ok: { example: list(CHECKPOINT_EXAMPLE) },
  })
  listFineTuningCheckpoints(@Param('id', IdParam.of('ftjob')) id: string, @Query() query: Record<string, unknown>) {
    return this.jobs.checkpoints(id, query);
  }

  @Get(':id/metrics')
  @ApiEndpoint({
    params: idParams('ftjob', JOB_EXAMPLE.id),
    summary: "Lathe: a job's whole history, every step and every epoch, and its final metrics",
    auth: 'train',
    errors: [ErrorCode.NotFound],
    ok: {
      example: {
        object: 'fine_tuning.job.metrics',
        job_id: JOB_EXAMPLE.id,
        status: 'succeeded',
        steps: [{ step: 1, epoch: 1, train_loss: 1.09, learning_rate: 0.01, batch_size: 16 }],
        epochs: [
          {
            epoch: 1,
            step: 12,
            train_loss: 0.98,
            train_accuracy: 0.61,
            valid_loss: 0.85,
            valid_accuracy: 0.79,
            improved: true,
            seconds: 0.04,
          },
        ],
        final: JOB_EXAMPLE.metrics,
      },
    },
  })
  fineTuningJobMetrics(@Param('id', IdParam.of('ftjob')) id: string) {
    return this.jobs.history(id);
  }
}

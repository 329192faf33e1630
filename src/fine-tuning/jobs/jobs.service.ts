import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { FineTuningDb } from '../fine-tuning-db.js';
import { isId } from '../ids.js';
import { cursorQuery, type ListPage, parseOr400, sqlText, toPage } from '../pagination.js';
import { JobQueue } from '../queue/job-queue.service.js';
import { JobSignals } from '../runner/job-signals.js';
import { fineTunedModelName } from '../runner/job-results.service.js';
import { type EventRow, JobEventsRepository } from './job-events.repository.js';
import { type EpochRecord, JobMetricsRepository, type StepRecord } from './job-metrics.repository.js';
import {
  type CheckpointObject,
  type FineTuningJobObject,
  type JobEventObject,
  toCheckpointObject,
  toEventObject,
  toJobObject,
} from './job.mapper.js';
import { isTerminal, sourcesOf } from './job-state.js';
import { type FinalMetrics, type JobRow, JobsRepository } from './jobs.repository.js';

export const jobsQuery = cursorQuery('ftjob', 20, 100)
  .extend({ metadata: z.record(sqlText(), sqlText()).optional() })
  .strict();
export const eventsQuery = cursorQuery('ftevent', 20, 1000)
  .extend({ stream: z.enum(['true', 'false']).optional() })
  .strict();
export const checkpointsQuery = cursorQuery('ftckpt', 10, 100).strict();

/** Lathe's full training history of a job. */
export interface JobMetricsObject {
  object: 'fine_tuning.job.metrics';
  job_id: string;
  status: JobRow['status'];
  steps: StepRecord[];
  epochs: EpochRecord[];
  final: FinalMetrics | null;
}

@Injectable()
export class JobsService {
  constructor(
    private readonly db: FineTuningDb,
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly metrics: JobMetricsRepository,
    private readonly signals: JobSignals,
    private readonly queue: JobQueue,
  ) {}

  async list(query: Record<string, unknown>): Promise<ListPage<FineTuningJobObject>> {
    const q = parseOr400(jobsQuery, nestMetadata(query), 'query');
    return toPage(await this.jobs.list(q.after, q.limit + 1, q.metadata), q.limit, toJobObject);
  }

  async get(id: string): Promise<FineTuningJobObject> {
    return toJobObject(await this.row(id));
  }

  /** Cancels a job that has not finished: 409 for one that has. A running job stops at its next step. */
  async cancel(id: string): Promise<FineTuningJobObject> {
    const row = await this.db.transaction(async (tx) => {
      const cancelled = await this.jobs.cancel(id, tx);
      if (cancelled) {
        await this.events.add(id, { message: 'Fine-tuning job cancelled by request' }, tx);
        await this.queue.close(id, 'cancelled', tx);
      }
      return cancelled;
    });
    if (!row) {
      const current = await this.row(id);
      throw new AppError(
        ErrorCode.Conflict,
        `job ${id} is ${current.status}; only a job that is ${sourcesOf('cancelled').join(', ')} can be cancelled`,
        { status: current.status },
      );
    }
    this.signals.cancelled(id);
    return toJobObject(row);
  }

  /** A page of events, newest first; `stream` is handled by the controller (see streamEvents). */
  async listEvents(id: string, query: unknown): Promise<ListPage<JobEventObject>> {
    const q = parseOr400(eventsQuery, query, 'query');
    await this.row(id);
    return toPage(await this.events.list(id, q.after, q.limit + 1), q.limit, toEventObject);
  }

  wantsStream(query: unknown): boolean {
    return parseOr400(eventsQuery, query, 'query').stream === 'true';
  }

  /**
   * Where a stream starts: after the event a reconnecting client last received (its
   * `Last-Event-ID`), else before the first. An id that names no event of this job is a 400: the
   * client would otherwise get the whole history again, or nothing, without knowing.
   */
  async streamStart(id: string, lastEventId: string | undefined): Promise<number> {
    await this.row(id);
    if (lastEventId === undefined) return 0;
    const seq = isId('ftevent', lastEventId) ? await this.events.seqOf(id, lastEventId) : undefined;
    if (seq === undefined) {
      throw new AppError(ErrorCode.ValidationFailed, `Last-Event-ID "${lastEventId.slice(0, 64)}" names no event of job "${id}"`);
    }
    return seq;
  }

  /** Events after sequence `seq`, oldest first, and whether the job has finished (for the stream). */
  async eventsSince(id: string, seq: number): Promise<{ events: EventRow[]; finished: boolean }> {
    const finished = isTerminal((await this.row(id)).status);
    // Read the status first: an event written as the job finished is still delivered.
    return { events: await this.events.since(id, seq, 500), finished };
  }

  async checkpoints(id: string, query: unknown): Promise<ListPage<CheckpointObject>> {
    const q = parseOr400(checkpointsQuery, query, 'query');
    const job = await this.row(id);
    const name = fineTunedModelName(job);
    return toPage(await this.metrics.checkpoints(id, q.after, q.limit + 1), q.limit, (r) => toCheckpointObject(r, name));
  }

  async history(id: string): Promise<JobMetricsObject> {
    const job = await this.row(id);
    const { steps, epochs } = await this.metrics.history(id);
    return { object: 'fine_tuning.job.metrics', job_id: id, status: job.status, steps, epochs, final: job.finalMetrics };
  }

  private async row(id: string): Promise<JobRow> {
    const row = await this.jobs.find(id);
    if (!row) throw new AppError(ErrorCode.NotFound, `no fine-tuning job with id "${id}"`);
    return row;
  }
}

/** OpenAI's clients send a metadata filter as `metadata[key]=value`; Fastify's query parser leaves those keys flat. */
function nestMetadata(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query ?? {})) {
    const match = /^metadata\[(.+)\]$/.exec(key);
    if (match) metadata[match[1]!] = value;
    else out[key] = value;
  }
  return Object.keys(metadata).length > 0 ? { ...out, metadata } : out;
}

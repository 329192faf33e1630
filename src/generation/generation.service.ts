import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { tasksFor } from '../contracts/task-table.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { PlainValue } from '../runtime/work.js';
import { type TaskModel, TaskModels } from '../tasks/task-models.service.js';
import { GenerationMetrics } from './generation-metrics.js';
import type { GenerateEvent, GenerateRequest, GenerateResult } from './text-generator.js';

/** The decode loop's load, as the worker reports it with every event. */
export interface EngineLoad {
  running: number;
  waiting: number;
  kvBytes: number;
  /** Counters since the worker started: decode steps, rows over those steps, sequences that joined a running batch. */
  steps: number;
  rows: number;
  joinedMidBatch: number;
}
type Reported<T> = T & { engine: EngineLoad };

/** One request's run as the routes see it: events as they come, then the result. */
export interface Generation {
  /** Resolves when the worker has read the prompt and queued its sequences; rejects if it refused them. */
  accepted: Promise<{ promptTokens: number; maxTokens: number }>;
  done: Promise<GenerateResult>;
}

const TEXT_GENERATION = tasksFor('completions');

/**
 * Text generation on the main thread: finds the model, hands each request to its workers' decode
 * loop (see TextGenerator), forwards the events, and keeps the metrics. Nothing here touches a
 * token: tokenizing, sampling and detokenizing run in the workers.
 */
@Injectable()
export class GenerationService {
  private readonly metrics: GenerationMetrics;
  /** The last engine counters seen per model and worker, to turn them into Prometheus counter increments. */
  private readonly seen = new Map<string, EngineLoad>();
  /** config.json's vocab_size per model folder, read once. */
  private readonly vocabularies = new Map<string, Promise<number>>();

  constructor(
    private readonly models: TaskModels,
    metrics: MetricsService,
  ) {
    this.metrics = new GenerationMetrics(metrics.registry);
  }

  /** A loaded text-generation model: 404 when unknown, 400 when of another task. */
  model(name: string, version?: string): Promise<TaskModel> {
    return this.models.get(name, TEXT_GENERATION, undefined, version);
  }

  /** The model's vocabulary size (config.json), to check token ids in a request before it is queued. */
  vocabularySize(model: TaskModel): Promise<number> {
    const folder = model.folder ?? model.dir;
    let size = this.vocabularies.get(folder);
    if (!size) {
      size = readFile(join(folder, 'config.json'), 'utf8').then((text) => {
        const vocab = (JSON.parse(text) as { vocab_size?: unknown }).vocab_size;
        if (!Number.isInteger(vocab)) throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}": config.json has no vocab_size`);
        return vocab as number;
      });
      size.catch(() => this.vocabularies.delete(folder));
      this.vocabularies.set(folder, size);
    }
    return size;
  }

  /**
   * Starts one request. `onEvent` gets each delta; aborting `signal` (the client went away) ends
   * the request's sequences before the decode loop's next step.
   */
  start(model: TaskModel, request: GenerateRequest, onEvent: (event: GenerateEvent) => void, signal?: AbortSignal): Generation {
    const labels = { model: model.name };
    const started = process.hrtime.bigint();
    const lastToken = new Map<number, bigint>();
    let accept!: (value: { promptTokens: number; maxTokens: number }) => void;
    const accepted = new Promise<{ promptTokens: number; maxTokens: number }>((resolve) => (accept = resolve));
    const load = (engine: EngineLoad) => {
      this.metrics.activeSequences.set(labels, engine.running);
      this.metrics.waitingSequences.set(labels, engine.waiting);
      this.metrics.kvCacheBytes.set(labels, engine.kvBytes);
      const key = `${model.name}/${model.version}`;
      const last = this.seen.get(key);
      // Counters restart with a new worker: then all of the new value is new.
      const grew = (now: number, before: number | undefined) => (before === undefined || now < before ? now : now - before);
      if (!last || engine.steps >= last.steps) {
        this.metrics.decodeSteps.inc(labels, grew(engine.steps, last?.steps));
        this.metrics.decodeRows.inc(labels, grew(engine.rows, last?.rows));
        this.metrics.joinedMidBatch.inc(labels, grew(engine.joinedMidBatch, last?.joinedMidBatch));
        this.seen.set(key, engine);
      }
    };
    const onWorkerEvent = (value: PlainValue) => {
      const event = value as unknown as Reported<GenerateEvent>;
      load(event.engine);
      if (event.type === 'accepted') {
        this.metrics.tokens.inc({ ...labels, kind: 'prompt' }, event.promptTokens);
        accept({ promptTokens: event.promptTokens, maxTokens: event.maxTokens });
      } else {
        const now = process.hrtime.bigint();
        const previous = lastToken.get(event.choice);
        if (previous === undefined) this.metrics.timeToFirstToken.observe(labels, Number(now - started) / 1e9);
        else this.metrics.interTokenLatency.observe(labels, Number(now - previous) / 1e9);
        lastToken.set(event.choice, now);
        this.metrics.tokens.inc({ ...labels, kind: 'completion' }, event.tokens);
      }
      onEvent(event);
    };
    const done = model.runner.generate(request as unknown as PlainValue, onWorkerEvent, signal).then(
      (answer) => {
        const result = answer.output as unknown as Reported<GenerateResult>;
        load(result.engine);
        for (const choice of result.choices) this.metrics.requests.inc({ ...labels, finish_reason: choice.finishReason });
        const { engine: _engine, ...rest } = result;
        return rest;
      },
      (err: unknown) => {
        this.metrics.requests.inc({ ...labels, finish_reason: signal?.aborted ? 'cancelled' : 'error' });
        throw err instanceof AppError ? err : new AppError(ErrorCode.Internal, err instanceof Error ? err.message : String(err));
      },
    );
    // The worker's refusal rejects `done` and, through it, `accepted`; callers that only wait for
    // `done` leave `accepted` alone, so its rejection is marked handled here.
    const acceptedOrRefused = Promise.race([accepted, done.then(() => accepted)]);
    acceptedOrRefused.catch(() => undefined);
    return { accepted: acceptedOrRefused, done };
  }
}

import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { ModelManifest } from '../contracts/model-manifest.js';
import { ModelRepository } from '../models/model-repository.service.js';
import { huggingfaceFolder } from '../models/model-source.js';
import type { ModelRunner } from '../runtime/model-runner.js';
import type { NamedTensors } from '../contracts/tensor.js';
import type { RunModel } from './run-model.js';

export interface TaskModel {
  name: string;
  version: string;
  /** The version's folder in the repository (manifest paths are relative to it). */
  dir: string;
  /** Its Hugging Face-layout folder, when its source is one. */
  folder?: string;
  manifest: ModelManifest;
  runner: ModelRunner;
  labels?: string[];
}

/**
 * What one task request did, for its response headers: the models it ran and where the time
 * went (Server-Timing: decode, queue, inference, the rest).
 */
export class TaskTrace {
  private readonly started = process.hrtime.bigint();
  readonly models: Array<{ name: string; version: string; provider: string }> = [];
  decodeMs = 0;
  queueMs = 0;
  inferenceMs = 0;

  used(model: TaskModel): void {
    if (!this.models.some((m) => m.name === model.name && m.version === model.version)) {
      this.models.push({ name: model.name, version: model.version, provider: model.runner.provider });
    }
  }

  async decoding<T>(work: Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await work;
    } finally {
      this.decodeMs += Number(process.hrtime.bigint() - t0) / 1e6;
    }
  }

  headers(): Record<string, string> {
    const totalMs = Number(process.hrtime.bigint() - this.started) / 1e6;
    const headers: Record<string, string> = {};
    const main = this.models[0];
    if (main) {
      headers['x-model'] = main.name;
      headers['x-model-version'] = main.version;
      headers['x-execution-provider'] =
        this.models.length === 1 ? main.provider : [...new Set(this.models.map((m) => m.provider))].join(',');
    }
    headers['x-queue-time-ms'] = this.queueMs.toFixed(3);
    headers['x-inference-time-ms'] = this.inferenceMs.toFixed(3);
    headers['server-timing'] =
      `decode;dur=${this.decodeMs.toFixed(3)}, queue;dur=${headers['x-queue-time-ms']}, ` +
      `inference;dur=${headers['x-inference-time-ms']}, total;dur=${totalMs.toFixed(3)}`;
    return headers;
  }
}

/** The task routes' way to the model repository: find a model for a task, run it, trace it. */
@Injectable()
export class TaskModels {
  private readonly models = new WeakMap<ModelRunner, Readonly<TaskModel>>();

  constructor(private readonly repository: ModelRepository) {}

  /**
   * A loaded model for a task route. Unknown model: 404; a model of another task: 400; a model
   * whose files are not on this machine: 503 MODEL_NOT_INSTALLED.
   */
  async get(name: string, tasks: readonly string[] | undefined, trace?: TaskTrace, version?: string): Promise<TaskModel> {
    const v = await this.repository.find(name, version);
    if (v.manifest && tasks && !tasks.includes(v.manifest.task)) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `model "${name}" is a ${v.manifest.task} model; this route needs ${tasks.join(' or ')}`,
      );
    }
    const { runner } = await this.repository.runner(name, v.version);
    // One TaskModel per loaded runner (a reload starts a new one), so a request does not rebuild it.
    let model = this.models.get(runner);
    if (!model || model.manifest !== v.manifest || model.dir !== v.dir) {
      model = {
        name,
        version: v.version,
        dir: v.dir,
        folder: huggingfaceFolder(v.manifest!, this.repository.sourceContext(v)),
        manifest: v.manifest!,
        runner,
        labels: await this.repository.labels(v),
      };
      this.models.set(runner, model);
    }
    trace?.used(model);
    return model;
  }

  /** Runs through the model's runner (queue, batching, deadline), adding its times to the trace. */
  async run(model: TaskModel, inputs: NamedTensors, outputs: string[], trace?: TaskTrace): Promise<NamedTensors> {
    const rows = model.manifest.maxBatchSize > 0 ? (Object.values(inputs)[0]?.shape[0] ?? 1) : 1;
    const result = await model.runner.infer(inputs, outputs, rows);
    if (trace) {
      trace.queueMs += result.queueMs;
      trace.inferenceMs += result.inferenceMs;
    }
    return result.outputs;
  }

  /** A RunModel for pipelines that call several models by name (OCR's detection, direction, recognition). */
  runModel(trace: TaskTrace): RunModel {
    return async (name, inputs, outputs) => this.run(await this.get(name, undefined, trace), inputs, outputs, trace);
  }
}

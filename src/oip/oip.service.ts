import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { LATHE_VERSION } from '../common/version.js';
import { batchAxisOf, fullShape, type ModelManifest } from '../contracts/model-manifest.js';
import { parseManifestOverride } from '../models/manifest-override.js';
import { type ModelVersion, ModelRepository } from '../models/model-repository.service.js';
import { huggingfaceFolder } from '../models/model-source.js';
import type { ModelStatistics } from '../runtime/model-stats.js';
import type { Tensor } from '../contracts/tensor.js';
import { classify } from './classification.js';
import { parseInferRequest } from './infer-request.js';
import { encodeBinaryData, encodeJsonData, joinInferResponse } from './tensor-codec.js';

export interface InferReply {
  /** JSON object, or header + binary tensor data with its header length. */
  body: object | Buffer;
  headerLength?: number;
  headers: Record<string, string>;
}

const PLATFORM = 'onnxruntime_onnx';

@Injectable()
export class OipService {
  constructor(private readonly models: ModelRepository) {}

  server() {
    return {
      name: 'lathe',
      version: LATHE_VERSION,
      extensions: ['binary_tensor_data', 'classification', 'model_configuration', 'model_repository', 'statistics'],
    };
  }

  metadata(name: string, version?: string) {
    const v = this.models.version(name, version);
    const manifest = this.manifestOf(v);
    const runner = this.models.loaded(v);
    return {
      name,
      versions: version === undefined ? this.models.versions(name).map((x) => x.version) : [v.version],
      platform: PLATFORM,
      inputs: manifest.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: fullShape(t, manifest.maxBatchSize) })),
      outputs: manifest.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: fullShape(t, manifest.maxBatchSize) })),
      parameters: {
        task: manifest.task,
        license: manifest.license,
        max_batch_size: manifest.maxBatchSize,
        ...flatLineage(manifest.parameters.lineage),
        ...(runner ? { execution_provider: runner.provider, instances: runner.liveWorkers } : {}),
      },
    };
  }

  /** Throws MODEL_NOT_READY (400, as Triton answers) unless the version is loaded and ready. */
  ready(name: string, version?: string): { name: string; ready: true } {
    const v = this.models.version(name, version);
    const { state, reason } = this.models.state(v);
    if (state !== 'READY')
      throw new AppError(
        ErrorCode.ModelNotReady,
        `model "${name}" version ${v.version} is not ready: ${state.toLowerCase()}${reason ? ` (${reason})` : ''}`,
      );
    return { name, ready: true };
  }

  async infer(name: string, version: string | undefined, body: unknown, headerLength: number | undefined): Promise<InferReply> {
    const v = this.models.version(name, version);
    const manifest = this.manifestOf(v);
    const request = parseInferRequest(body, headerLength, manifest);
    // The version as asked (none: the highest), so an unloaded model's error says which.
    const { runner } = await this.models.runner(name, version);
    const result = await runner.infer(request.inputs, request.outputs, request.rows);

    const labels = request.classification.size > 0 ? await this.classLabels(v) : undefined;
    const chunks: Uint8Array[] = [];
    const outputs = request.outputs.map((outputName) => {
      const count = request.classification.get(outputName);
      const tensor =
        count === undefined
          ? result.outputs[outputName]!
          : this.classified(manifest, outputName, result.outputs[outputName] as Tensor, count, labels);
      const base = { name: outputName, datatype: tensor.datatype, shape: tensor.shape };
      if (!request.binaryOutputs.has(outputName)) return { ...base, data: encodeJsonData(tensor as Tensor) };
      const bytes = encodeBinaryData(tensor as Tensor);
      chunks.push(bytes);
      return { ...base, parameters: { binary_data_size: bytes.byteLength } };
    });
    const header = { model_name: name, model_version: v.version, ...(request.id !== undefined ? { id: request.id } : {}), outputs };
    const headers = {
      'x-execution-provider': runner.provider,
      'x-queue-time-ms': result.queueMs.toFixed(3),
      'x-inference-time-ms': result.inferenceMs.toFixed(3),
    };
    if (chunks.length === 0) return { body: header, headers };
    const joined = joinInferResponse(header, chunks);
    return { body: joined.body, headerLength: joined.headerLength, headers };
  }

  stats(name?: string, version?: string): { model_stats: ModelStatistics[] } {
    const versions =
      name === undefined
        ? this.models.names().flatMap((n) => this.models.versions(n))
        : version === undefined
          ? this.models.versions(name)
          : [this.models.version(name, version)];
    const model_stats = versions.flatMap((v) => {
      const runner = this.models.loaded(v);
      return runner ? [runner.stats.snapshot()] : [];
    });
    return { model_stats };
  }

  async repositoryIndex(readyOnly: boolean) {
    await this.models.reindex();
    const rows = this.models
      .names()
      .flatMap((n) => this.models.versions(n).map((v) => ({ name: n, version: v.version, ...this.models.state(v) })));
    return readyOnly ? rows.filter((r) => r.state === 'READY') : rows;
  }

  /** Triton's repository load; `parameters.config` overrides the manifest's serving fields (see manifest-override.ts). */
  async load(name: string, body?: { parameters?: Record<string, unknown> }): Promise<Record<string, never>> {
    const config = body?.parameters?.config;
    await this.models.load(name, config === undefined ? undefined : parseManifestOverride(config));
    return {};
  }

  /** Triton's model configuration extension: the manifest the version is served with (overrides applied). */
  config(name: string, version?: string): object {
    const v = this.models.version(name, version);
    return { name, version: v.version, ...this.manifestOf(v) };
  }

  /** The classes of the top `count` values of an output (Triton's classification extension). */
  private classified(manifest: ModelManifest, output: string, tensor: Tensor, count: number, labels?: string[]): Tensor {
    const spec = manifest.outputs.find((o) => o.name === output)!;
    const axis = batchAxisOf(spec, manifest.maxBatchSize);
    if (axis !== null && axis !== 0) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `output "${output}" has its batch dimension at ${axis}; classification needs it first`,
      );
    }
    return classify(output, tensor, count, axis === 0, labels);
  }

  /** Class names: the manifest's labels, else config.json's id2label for a Hugging Face-layout model. */
  private async classLabels(v: ModelVersion): Promise<string[] | undefined> {
    const labels = await this.models.labels(v);
    if (labels) return labels;
    const folder = huggingfaceFolder(v.manifest!, this.models.sourceContext(v));
    if (!folder) return undefined;
    const config = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8').catch(() => '{}')) as {
      id2label?: Record<string, string>;
    };
    const id2label = config.id2label ?? {};
    const ids = Object.keys(id2label).map(Number);
    return ids.length > 0 && ids.every((id, i) => Number.isInteger(id) && ids.includes(i))
      ? ids.map((_, i) => id2label[String(i)]!)
      : undefined;
  }

  async unload(name: string): Promise<Record<string, never>> {
    await this.models.unload(name);
    return {};
  }

  private manifestOf(v: ModelVersion): ModelManifest {
    if (!v.manifest) throw new AppError(ErrorCode.ModelLoadFailed, `model "${v.name}" version ${v.version} is unusable: ${v.error}`);
    return v.manifest;
  }
}

/** A stored model's lineage as flat string parameters (`lineage_job`, ...): the protocol allows only scalar values. */
function flatLineage(lineage: unknown): Record<string, string> {
  if (typeof lineage !== 'object' || lineage === null) return {};
  return Object.fromEntries(Object.entries(lineage).map(([key, value]) => [`lineage_${key}`, String(value)]));
}

import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { LATHE_VERSION } from '../common/version.js';
import { fullShape } from '../contracts/model-manifest.js';
import { type ModelVersion, ModelRepository } from '../models/model-repository.service.js';
import type { ModelStatistics } from '../runtime/model-stats.js';
import type { Tensor } from '../contracts/tensor.js';
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
      extensions: ['binary_tensor_data', 'model_repository', 'statistics'],
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
        ...(manifest.parameters.lineage ? { lineage: manifest.parameters.lineage } : {}),
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
    const { runner } = await this.models.runner(name, v.version);
    const result = await runner.infer(request.inputs, request.outputs, request.rows);

    const chunks: Uint8Array[] = [];
    const outputs = request.outputs.map((outputName) => {
      const tensor = result.outputs[outputName]!;
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

  async load(name: string): Promise<Record<string, never>> {
    await this.models.load(name);
    return {};
  }

  async unload(name: string): Promise<Record<string, never>> {
    await this.models.unload(name);
    return {};
  }

  private manifestOf(v: ModelVersion) {
    if (!v.manifest) throw new AppError(ErrorCode.ModelLoadFailed, `model "${v.name}" version ${v.version} is unusable: ${v.error}`);
    return v.manifest;
  }
}

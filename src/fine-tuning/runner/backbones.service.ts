import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ModelRepository } from '../../models/model-repository.service.js';
import { huggingfaceFolder, ModelFileMissing, resolveWeights } from '../../models/model-source.js';
import { taskRow, tasksWhere } from '../../contracts/task-table.js';
import type { InputKind } from '../files/dataset-parser.js';

export interface Backbone {
  name: string;
  version: string;
  /** What its features are computed from. */
  input: InputKind;
  weightsPath: string;
  /** Length of its feature vectors, when its manifest declares it (known before any feature is computed). */
  featureDim?: number;
}

/**
 * Which repository models can be backbones (today: text encoders, the feature-extraction models
 * /v1/embeddings serves), and the sha256 of a backbone's ONNX file, which keys the feature cache
 * and is recorded with every fine-tuned model.
 */
@Injectable()
export class BackbonesService {
  private readonly hashes = new Map<string, Promise<string>>();

  constructor(private readonly repository: ModelRepository) {}

  /** The backbone named `name` (its highest version): 404 when unknown, 400 when it cannot be one. */
  resolve(name: string): Backbone {
    const v = this.repository.version(name);
    const manifest = v.manifest;
    if (!manifest) throw new AppError(ErrorCode.ModelLoadFailed, `model "${name}" version ${v.version} cannot load: ${v.error}`);
    const context = this.repository.sourceContext(v);
    const backbone = taskRow(manifest.task)?.backbone;
    const text = backbone === 'text' && huggingfaceFolder(manifest, context) !== undefined;
    // An image model whose manifest says how images become its input; its features are its
    // `parameters.features` output (default its first).
    const image = backbone === 'image' && manifest.image !== undefined && manifest.parameters.backbone === undefined;
    if (!text && !image) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `model "${name}" is a ${manifest.task} model; a backbone must be a text encoder (${tasksWhere((row) => row.backbone === 'text').join(' or ')}, Hugging Face layout), e.g. glove-100d, or an image model with image preprocessing in its manifest, e.g. math-symbols`,
        [{ field: 'model', problems: ['not a backbone Lathe can fine-tune a head on'] }],
      );
    }
    try {
      return {
        name,
        version: v.version,
        input: text ? 'text' : 'image',
        weightsPath: resolveWeights(manifest, context),
        featureDim: featureDim(manifest, text ? 'output' : 'features'),
      };
    } catch (err) {
      if (err instanceof ModelFileMissing)
        throw new AppError(ErrorCode.ModelNotInstalled, `model "${name}" is not installed here: ${err.message}`);
      throw err;
    }
  }

  /** sha256 of the backbone's ONNX file, streamed once per file version (path, size, mtime). */
  async sha256(backbone: Backbone): Promise<string> {
    const info = await stat(backbone.weightsPath);
    const key = `${backbone.weightsPath}:${info.size}:${info.mtimeMs}`;
    let hash = this.hashes.get(key);
    if (!hash) {
      hash = new Promise<string>((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(backbone.weightsPath)
          .on('data', (chunk) => h.update(chunk))
          .on('error', reject)
          .on('end', () => resolve(h.digest('hex')));
      });
      this.hashes.set(key, hash);
      hash.catch(() => this.hashes.delete(key));
    }
    return hash;
  }
}

/** The last dimension of the output a backbone's features come from (`parameters[key]`, default its first output); undefined when dynamic. */
function featureDim(
  manifest: { outputs: ReadonlyArray<{ name: string; shape: readonly number[] }>; parameters: Record<string, unknown> },
  key: string,
): number | undefined {
  const named = manifest.parameters[key];
  const output = manifest.outputs.find((o) => o.name === named) ?? manifest.outputs[0];
  const last = output?.shape.at(-1);
  return last !== undefined && last > 0 ? last : undefined;
}

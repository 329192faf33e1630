import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { TaskTrace } from '../tasks/task-models.service.js';
import { parseBody, readTextInputs } from './text-input.js';
import { type TextModel, TextModels } from './text-models.service.js';

export const EMBEDDING_TASKS = ['feature-extraction', 'sentence-similarity'] as const;
/** OpenAI's limit on inputs per request. */
export const MAX_EMBEDDING_INPUTS = 2048;

const request = z
  .object({
    model: z.string().min(1).max(200),
    /** A string, a list of strings, a token array or a list of them: read by readTextInputs. */
    input: z.unknown(),
    encoding_format: z.enum(['float', 'base64']).default('float'),
    dimensions: z.number().int().min(1).optional(),
    user: z.string().optional(),
    /** Lathe: cut inputs longer than the model takes instead of answering 413. */
    truncate: z.boolean().default(false),
  })
  .strict();

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** OpenAI's embeddings API over any feature-extraction model in the repository. */
@Injectable()
export class EmbeddingsService {
  constructor(private readonly text: TextModels) {}

  async embed(body: unknown, trace: TaskTrace): Promise<EmbeddingsResponse> {
    const r = parseBody(request, body);
    const { inputs } = readTextInputs(r.input, 'input', MAX_EMBEDDING_INPUTS, true);
    const model = await this.text.get(r.model, EMBEDDING_TASKS, trace);
    const ids = this.text.encode(model, inputs, r.truncate);
    const vectors = await this.vectors(model, ids, trace);
    const width = vectors[0]?.length ?? 0;
    if (r.dimensions !== undefined && r.dimensions > width) {
      throw new AppError(ErrorCode.ValidationFailed, `dimensions ${r.dimensions} is more than model "${r.model}" gives (${width})`);
    }
    const tokens = ids.reduce((n, row) => n + row.length, 0);
    return {
      object: 'list',
      data: vectors.map((v, index) => {
        const out = r.dimensions !== undefined ? normalised(v.subarray(0, r.dimensions)) : v;
        return { object: 'embedding', index, embedding: r.encoding_format === 'base64' ? Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('base64') : Array.from(out) };
      }),
      model: r.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }

  /**
   * The features a backbone gives texts: exactly the vectors /v1/embeddings answers (pooled and
   * normalised as the backbone's manifest says, inputs longer than the model truncated). Fine-tuning
   * trains heads on these and fine-tuned models compute them the same way when they serve.
   */
  async features(backbone: string, texts: readonly string[], trace: TaskTrace): Promise<Float32Array[]> {
    const model = await this.text.get(backbone, EMBEDDING_TASKS, trace);
    return this.vectors(model, this.text.encode(model, texts, true), trace);
  }

  /** One vector per input: the model's pooled output, or token vectors pooled as the manifest says. */
  private async vectors(model: TextModel, ids: number[][], trace: TaskTrace): Promise<Float32Array[]> {
    const output = model.params.output ?? model.manifest.outputs[0]!.name;
    const chunks = await this.text.run(model, ids, output, trace);
    const vectors: Float32Array[] = [];
    for (const { batch, output: tensor } of chunks) {
      const data = tensor.data as Float32Array;
      const pooled = tensor.shape.length === 2 || model.params.pooling === 'none';
      const width = tensor.shape.at(-1)!;
      for (let r = 0; r < batch.rows; r += 1) {
        let v: Float32Array;
        if (pooled) v = data.slice(r * width, (r + 1) * width);
        else {
          const rowStart = r * batch.seqLength * width;
          if (model.params.pooling === 'cls') v = data.slice(rowStart, rowStart + width);
          else {
            v = new Float32Array(width);
            const n = batch.lengths[r]!;
            for (let t = 0; t < n; t += 1) for (let k = 0; k < width; k += 1) v[k]! += data[rowStart + t * width + k]! / n;
          }
        }
        vectors.push(model.params.normalize ? normalised(v) : v);
      }
    }
    return vectors;
  }
}

/** L2-normalised copy; a zero vector stays zero. */
function normalised(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i += 1) sum += v[i]! * v[i]!;
  const out = new Float32Array(v.length);
  if (sum === 0) return out;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i += 1) out[i] = v[i]! * scale;
  return out;
}

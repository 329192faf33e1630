import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { normaliseInPlace } from './text-features.js';
import { tasksFor } from '../contracts/task-table.js';
import type { TaskTrace } from '../tasks/task-models.service.js';
import { validate } from '../common/http/validate-body.js';
import { readTextInputs } from './text-input.js';
import { TextModels } from './text-models.service.js';

/** OpenAI's limit on inputs per request. */
export const MAX_EMBEDDING_INPUTS = 2048;

export const embeddingsRequest = z
  .object({
    model: z.string().min(1).max(200),
    /** A string, a list of strings, a token array or a list of them: read by readTextInputs. */
    input: z.unknown().meta({ description: 'a string, a list of strings, a token array or a list of them' }),
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
    const r = validate(embeddingsRequest, body);
    const { inputs } = readTextInputs(r.input, 'input', MAX_EMBEDDING_INPUTS, true);
    const model = await this.text.get(r.model, tasksFor('embeddings'), trace);
    const { vectors, width, tokens } = await this.text.embed(model, inputs, r.truncate, trace);
    if (r.dimensions !== undefined && r.dimensions > width) {
      throw new AppError(ErrorCode.ValidationFailed, `dimensions ${r.dimensions} is more than model "${r.model}" gives (${width})`);
    }
    return {
      object: 'list',
      data: vectors.map((v, index) => {
        const out = r.dimensions !== undefined ? normaliseInPlace(v.slice(0, r.dimensions)) : v;
        return {
          object: 'embedding',
          index,
          embedding:
            r.encoding_format === 'base64' ? Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('base64') : Array.from(out),
        };
      }),
      model: r.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }

  /**
   * The features a backbone gives texts: exactly the vectors /v1/embeddings answers (pooled and
   * normalised as the backbone's manifest says, inputs longer than the model truncated), and the
   * tokens read. Fine-tuning trains heads on these and fine-tuned models compute them the same way
   * when they serve.
   */
  async features(backbone: string, texts: readonly string[], trace: TaskTrace): Promise<{ vectors: Float32Array[]; tokens: number }> {
    const model = await this.text.get(backbone, tasksFor('embeddings'), trace);
    return this.text.embed(model, texts, true, trace);
  }
}

/**
 * Hugging Face Inference API bodies on Lathe's task routes: `{"inputs", "parameters"}` with the
 * model in the URL (`?model=`), as `@huggingface/inference` sends them to an endpoint. A body is
 * read in that shape, and answered in the shapes that client's types promise, when it names no
 * model itself or carries `parameters`; any other body is Lathe's own, answered as before.
 */
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { teiEmbedRequest } from './tei-schemas.js';

const modelName = z.string().min(1).max(200);

export const modelQuery = z.object({
  model: modelName
    .optional()
    .describe('the model, for Hugging Face Inference bodies ({"inputs", "parameters"}) that do not name it')
    .meta({ example: 'sentiment' }),
});
export type ModelQuery = z.infer<typeof modelQuery>;

/** Labels a Hugging Face text-classification answer holds when `top_k` is not given: all of them. */
export const HF_ALL_LABELS = 100_000;

export const hfClassifyRequest = z
  .object({
    inputs: z.unknown(),
    parameters: z
      .object({
        top_k: z.number().int().min(1).max(HF_ALL_LABELS).optional(),
        function_to_apply: z.enum(['softmax', 'sigmoid', 'none']).optional(),
      })
      .strict()
      .optional(),
    model: modelName.optional(),
  })
  .strict();

export const hfTokensRequest = z
  .object({
    inputs: z.unknown(),
    parameters: z
      .object({
        aggregation_strategy: z.enum(['none', 'simple', 'first', 'max', 'average']).default('simple'),
        ignore_labels: z.array(z.string()).default(['O']),
      })
      .strict()
      .default({ aggregation_strategy: 'simple', ignore_labels: ['O'] }),
    model: modelName.optional(),
  })
  .strict();

/** Hugging Face's feature-extraction body is TEI's /embed body (plus the OpenAI-style fields the client may add). */
export const hfFeatureRequest = teiEmbedRequest.extend({
  model: modelName.optional(),
  encoding_format: z.literal('float').optional(),
});

/** A body in Hugging Face Inference's shape: an object that names no model (the URL does) or has `parameters`. */
export function isHfBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return !('model' in body) || 'parameters' in body;
}

/** A feature-extraction body: `inputs` where OpenAI's embeddings body has `input`. */
export function isHfFeatureBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && 'inputs' in body;
}

/** The model a Hugging Face body is for: the URL's, else the body's; both must agree. */
export function hfModel(inBody: string | undefined, query: ModelQuery): string {
  const model = query.model ?? inBody;
  if (model === undefined) {
    const message = 'no model named: put it in the URL (?model=NAME) or in the body ("model")';
    throw new AppError(ErrorCode.ValidationFailed, message, [{ field: 'model', problems: [message] }]);
  }
  if (inBody !== undefined && inBody !== model) {
    const message = `the URL names model "${model}" and the body "${inBody}"`;
    throw new AppError(ErrorCode.ValidationFailed, message, [{ field: 'model', problems: [message] }]);
  }
  return model;
}

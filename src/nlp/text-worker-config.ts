import { z } from 'zod';

/**
 * What a text model's session workers need to serve it whole (one vector per text): they
 * tokenize and pool as well as run (see text-embed.worker-handler.ts). Crosses to the worker as
 * plain data, and is checked there against this schema.
 */
export const textWorkerConfig = z.object({
  /** The model's name, for error messages. */
  model: z.string(),
  /** The Hugging Face-layout folder (tokenizer.json, config.json). */
  folder: z.string(),
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: z.string(),
  /** The session's inputs to fill (input_ids, attention_mask, token_type_ids). */
  inputs: z.array(z.string()),
  output: z.string(),
  pooling: z.enum(['mean', 'cls', 'none', 'splade']),
  normalize: z.boolean(),
  /** The manifest's maxLength, when it sets one. */
  maxLength: z.number().int().min(1).optional(),
  maxBatchSize: z.number().int().min(1),
});
export type TextWorkerConfig = z.infer<typeof textWorkerConfig>;

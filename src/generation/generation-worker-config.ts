import { z } from 'zod';

/**
 * What a decoder model's session worker needs for its decode loop (see generate.worker-handler.ts).
 * Crosses to the worker as plain data, and is checked there against this schema.
 */
export const generationWorkerConfig = z.object({
  /** The model's name, for error messages. */
  model: z.string(),
  /** The Hugging Face-layout folder (config.json, generation_config.json, tokenizer files). */
  folder: z.string(),
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: z.string(),
  maxSequences: z.number().int().min(1),
  kvCacheBytes: z.number().int().min(1),
  queue: z.number().int().min(0),
  prefillChunkTokens: z.number().int().min(1),
  retryAfterSeconds: z.number().int().min(1),
  /** Serve a copy of the graph whose LM head runs on the last position only (last-position-graph.ts). */
  lastPositionLogits: z.boolean(),
});
export type GenerationWorkerConfig = z.infer<typeof generationWorkerConfig>;

/** A model's own settings in its manifest's `parameters`, over the server's LATHE_GENERATE_* defaults. */
export const generationParameters = z
  .object({
    maxSequences: z.number().int().min(1).max(1024).optional(),
    kvCacheBytes: z.number().int().min(1024).optional(),
    queue: z.number().int().min(0).max(100_000).optional(),
    prefillChunkTokens: z.number().int().min(16).optional(),
    /** false: serve the graph as exported, with logits for every prompt position (default true). */
    lastPositionLogits: z.boolean().optional(),
  })
  .loose();

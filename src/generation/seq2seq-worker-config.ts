import { z } from 'zod';

/**
 * What an encoder-decoder text model's session worker needs (see seq2seq.worker-handler.ts).
 * Crosses to the worker as plain data, and is checked there against this schema.
 */
export const seq2seqWorkerConfig = z.object({
  /** The model's name, for error messages. */
  model: z.string(),
  /** The Hugging Face-layout folder (config.json, generation_config.json, tokenizer files). */
  folder: z.string(),
  /** The merged decoder, relative to the folder. */
  decoderFile: z.string(),
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: z.string(),
  /** Decoder rows (one per beam) that run at once. */
  maxRows: z.number().int().min(1),
  /** Rows that may wait beyond those. */
  queue: z.number().int().min(0),
  retryAfterSeconds: z.number().int().min(1),
});
export type Seq2SeqWorkerConfig = z.infer<typeof seq2seqWorkerConfig>;

/** The merged decoder of a manifest's `parameters.decoder` (as `lathe models pull` writes it). */
export const seq2seqParameters = z
  .object({
    decoder: z
      .object({ file: z.string().min(1) })
      .loose()
      .optional(),
    maxSequences: z.number().int().min(1).max(1024).optional(),
    queue: z.number().int().min(0).max(100_000).optional(),
  })
  .loose();

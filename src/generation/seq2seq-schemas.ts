import { z } from 'zod';
import { MAX_BEAMS } from './seq2seq-search.js';
import { MAX_NEW_TOKENS_LIMIT } from './seq2seq-generator.js';

/** Texts one request may carry (each is its own sequence in the model's batch). */
export const MAX_SEQ2SEQ_INPUTS = 64;

const generateParameters = {
  max_new_tokens: z.number().int().min(1).max(MAX_NEW_TOKENS_LIMIT).optional(),
  min_new_tokens: z.number().int().min(0).max(MAX_NEW_TOKENS_LIMIT).optional(),
  num_beams: z.number().int().min(1).max(MAX_BEAMS).optional(),
  length_penalty: z.number().min(-10).max(10).optional(),
  early_stopping: z.union([z.boolean(), z.literal('never')]).optional(),
  do_sample: z.boolean().optional(),
  temperature: z.number().gt(0).max(100).optional(),
  top_k: z.number().int().min(0).max(100_000).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  repetition_penalty: z.number().gt(0).max(100).optional(),
  no_repeat_ngram_size: z.number().int().min(0).max(64).optional(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
};

/** Hugging Face's task parameters; generation settings also under `generate_parameters`, as its translation spec nests them. */
export const seq2seqParameters = z
  .object({
    src_lang: z.string().min(1).max(32).optional(),
    tgt_lang: z.string().min(1).max(32).optional(),
    ...generateParameters,
    generate_parameters: z.strictObject(generateParameters).optional(),
  })
  .strict();
export type Seq2SeqParameters = z.infer<typeof seq2seqParameters>;

/** `{"inputs", "parameters"}` (Hugging Face Inference) or Lathe's `{model, input}`; the model in the body or the query. */
export const seq2seqRequest = z
  .object({
    model: z.string().min(1).max(200).optional(),
    inputs: z
      .unknown()
      .optional()
      .meta({ description: `a string or a list of up to ${MAX_SEQ2SEQ_INPUTS} strings` }),
    input: z.unknown().optional().meta({ description: 'the same as inputs' }),
    parameters: seq2seqParameters.optional(),
  })
  .strict();

export const seq2seqQuery = z.object({ model: z.string().min(1).max(200).optional() }).strict();

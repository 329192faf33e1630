/**
 * Request bodies of text-embeddings-inference's routes, field for field as TEI's OpenAPI document
 * (docs/openapi.json, 1.9) has them, so TEI clients send what they always send.
 */
import { z } from 'zod';

/** Inputs one TEI request may carry (TEI's max_client_batch_size; its default is 32). */
export const TEI_MAX_CLIENT_BATCH = 256;
/** Token ids one /decode list may hold. */
export const TEI_MAX_DECODE_IDS = 100_000;

const truncate = z.boolean().nullable().default(false).describe("cut inputs longer than the model's limit instead of answering 413");
const truncationDirection = z
  .enum(['Left', 'Right', 'left', 'right'])
  .default('Right')
  .describe('which end truncation cuts')
  .transform((d): 'left' | 'right' => (d === 'Left' || d === 'left' ? 'left' : 'right'));
const promptName = z
  .string()
  .min(1)
  .max(200)
  .nullable()
  .optional()
  .describe("a key of the model's sentence-transformers `prompts` (config_sentence_transformers.json), prepended to every text");
const input = z.unknown().meta({ description: 'a string, a token-id array, or a list of them', example: 'What is Deep Learning?' });

export const teiEmbedRequest = z
  .object({
    inputs: input,
    normalize: z.boolean().default(true),
    truncate,
    truncation_direction: truncationDirection,
    prompt_name: promptName,
    dimensions: z.number().int().min(1).nullable().optional().describe('keep the first n dimensions (renormalised when normalize)'),
  })
  .strict();

export const teiEmbedAllRequest = z
  .object({ inputs: input, truncate, truncation_direction: truncationDirection, prompt_name: promptName })
  .strict();

export const teiRerankRequest = z
  .object({
    query: z.string().min(1).meta({ example: 'What is Deep Learning?' }),
    texts: z.array(z.string()).meta({ example: ['Deep Learning is ...'] }),
    raw_scores: z.boolean().default(false).describe('the logit instead of its sigmoid'),
    return_text: z.boolean().default(false),
    truncate,
    truncation_direction: truncationDirection,
  })
  .strict();

export const teiPredictRequest = z
  .object({
    inputs: z.unknown().meta({
      description: 'a string, a pair of strings, or a batch of [text] and [text, text_pair] lists',
      example: 'What is Deep Learning?',
    }),
    raw_scores: z.boolean().default(false).describe('logits instead of softmax (sigmoid for a one-label model)'),
    truncate,
    truncation_direction: truncationDirection,
  })
  .strict();

export const teiTokenizeRequest = z
  .object({
    inputs: z.union([z.string(), z.array(z.string())]).meta({ example: 'test' }),
    add_special_tokens: z.boolean().default(true),
    prompt_name: promptName,
  })
  .strict();

export const teiDecodeRequest = z
  .object({
    ids: z.union([z.array(z.number().int().min(0)), z.array(z.array(z.number().int().min(0)))]).meta({ example: [2, 67, 3] }),
    skip_special_tokens: z.boolean().default(true),
  })
  .strict();

/** The model in the path (/tei/{model}/...), with an example model that serves the route. */
export const teiModelParams = (example: string) => z.object({ model: z.string().min(1).max(200).meta({ example }) });

/** The model of a root route: `?model=`, else the X-Model header, else LATHE_TEI_MODEL. */
export const teiModelQuery = (example: string) =>
  z.object({
    model: z.string().min(1).max(200).optional().describe('the model; else the X-Model header, else LATHE_TEI_MODEL').meta({ example }),
  });

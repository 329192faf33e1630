import { z } from 'zod';

/** What a speech model's pipeline workers load: a Transformers.js pipeline over a Hugging Face-layout folder. */
export const speechPipelineConfig = z.object({
  /** The pipeline's task (the manifest's). */
  task: z.string(),
  /** The Hugging Face-layout folder. */
  folder: z.string(),
  /** Transformers.js dtype, e.g. fp32 or q8 (which onnx/*.onnx files it loads). */
  dtype: z.string(),
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: z.string(),
});
export type SpeechPipelineConfig = z.infer<typeof speechPipelineConfig>;

/**
 * What the pipeline answers: the text, with timestamps its chunks, and when the worker detected the
 * language, that language and its probability. Checked in the worker and again where it is read.
 */
export const transcriptionOutput = z.object({
  text: z.string(),
  chunks: z.array(z.object({ timestamp: z.tuple([z.number(), z.number().nullable()]), text: z.string() })).optional(),
  language: z.string().optional(),
  languageProbability: z.number().optional(),
});

/**
 * What a synthesis call answers for one piece of text: its samples at the model's rate, and how
 * many tokens the text became (0: nothing in it is in the model's alphabet, and `audio` is empty).
 */
export const synthesisOutput = z.object({
  audio: z.instanceof(Float32Array),
  samplingRate: z.number().int().positive(),
  tokens: z.number().int().nonnegative(),
});
export type SynthesisOutput = z.infer<typeof synthesisOutput>;

import { z } from 'zod';

/** What a transcription model's workers load: a Transformers.js pipeline over a Hugging Face-layout folder. */
export const transcriptionPipelineConfig = z.object({
  /** The pipeline's task (the manifest's). */
  task: z.string(),
  /** The Hugging Face-layout folder. */
  folder: z.string(),
  /** Transformers.js dtype, e.g. fp32 or q8 (which onnx/*.onnx files it loads). */
  dtype: z.string(),
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: z.string(),
});
export type TranscriptionPipelineConfig = z.infer<typeof transcriptionPipelineConfig>;

/** What the pipeline answers: the text, and with timestamps its chunks. Checked in the worker and again where it is read. */
export const transcriptionOutput = z.object({
  text: z.string(),
  chunks: z.array(z.object({ timestamp: z.tuple([z.number(), z.number().nullable()]), text: z.string() })).optional(),
});

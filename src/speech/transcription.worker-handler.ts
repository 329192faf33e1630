/**
 * The `pipeline` extension of a transcription model's workers: a Transformers.js pipeline (for
 * Whisper, its encoder and decoder with generation, a loop of several sessions rather than one
 * session.run). Files come from the model's local folder only.
 */
import { pipeline } from '@huggingface/transformers';
import type { PipelineExtension } from '../runtime/worker-extension.js';
import { configureTransformers } from '../nlp/hf-tokenizer.js';
import { speechPipelineConfig, transcriptionOutput } from './speech-pipeline.js';

type Pipe = ((input: unknown, options?: Record<string, unknown>) => Promise<unknown>) & { dispose(): Promise<void> };

export const extension: PipelineExtension = {
  async load(raw, { provider, intraOpThreads }) {
    const config = speechPipelineConfig.parse(raw);
    configureTransformers(config.cacheDir);
    const pipe = (await pipeline(config.task as 'automatic-speech-recognition', config.folder, {
      device: provider as 'cpu',
      dtype: config.dtype as 'fp32',
      session_options: { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1 },
    })) as unknown as Pipe;
    return {
      call: async ({ input, options }) => transcriptionOutput.parse(await pipe(input, options)),
      dispose: () => pipe.dispose(),
    };
  },
};

/**
 * The `pipeline` extension of a speech synthesis model's workers: Transformers.js' `text-to-speech`
 * pipeline (for VITS: its tokenizer, with the blank between characters, and the one session that
 * turns token ids into a waveform). One call speaks one piece of text. Files come from the model's
 * local folder only.
 */
import { pipeline } from '@huggingface/transformers';
import { configureTransformers } from '../nlp/hf-tokenizer.js';
import type { PipelineExtension } from '../runtime/worker-extension.js';
import { speechPipelineConfig, type SynthesisOutput } from './speech-pipeline.js';

interface Speech {
  audio: Float32Array<ArrayBuffer>;
  sampling_rate: number;
}
type Pipe = ((text: string) => Promise<Speech>) & {
  tokenizer: (text: string) => { input_ids: { dims: number[] } };
  dispose(): Promise<void>;
};

export const extension: PipelineExtension = {
  async load(raw, { provider, intraOpThreads }) {
    const config = speechPipelineConfig.parse(raw);
    configureTransformers(config.cacheDir);
    const pipe = (await pipeline('text-to-speech', config.folder, {
      device: provider as 'cpu',
      dtype: config.dtype as 'fp32',
      session_options: { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1 },
    })) as unknown as Pipe;
    return {
      call: async ({ input }) => {
        if (typeof input !== 'string') throw new TypeError('speech synthesis takes text');
        // A text the tokenizer keeps nothing of (no character in the model's alphabet) has nothing to say.
        const tokens = pipe.tokenizer(input).input_ids.dims.at(-1) ?? 0;
        if (tokens === 0) return { audio: new Float32Array(0), samplingRate: 1, tokens } satisfies SynthesisOutput;
        const speech = await pipe(input);
        return { audio: speech.audio, samplingRate: speech.sampling_rate, tokens } satisfies SynthesisOutput;
      },
      dispose: () => pipe.dispose(),
    };
  },
};

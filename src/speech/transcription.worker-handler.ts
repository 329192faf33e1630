/**
 * The `pipeline` extension of a transcription model's workers: a Transformers.js pipeline (for
 * Whisper, its encoder and decoder with generation, a loop of several sessions rather than one
 * session.run). Files come from the model's local folder only.
 *
 * Transformers.js prompts Whisper with English when no language is given; here a call asking for
 * `detect_language` first runs the encoder and one decoder step after <|startoftranscript|> on the
 * first 30 s and takes the language token the model rates highest, as openai/whisper does, then
 * transcribes (or translates) with that language.
 */
import { pipeline, Tensor } from '@huggingface/transformers';
import type { PipelineExtension } from '../runtime/worker-extension.js';
import { configureTransformers } from '../nlp/hf-tokenizer.js';
import { speechPipelineConfig, transcriptionOutput } from './speech-pipeline.js';

interface WhisperModel {
  (inputs: { input_features: unknown; decoder_input_ids: Tensor }): Promise<{ logits: { data: Float32Array; dims: number[] } }>;
  generation_config?: { decoder_start_token_id?: number; lang_to_id?: Record<string, number>; task_to_id?: Record<string, number> };
}
type Pipe = ((input: unknown, options?: Record<string, unknown>) => Promise<unknown>) & {
  dispose(): Promise<void>;
  model: WhisperModel;
  processor: (audio: Float32Array) => Promise<{ input_features: unknown }>;
};

export const extension: PipelineExtension = {
  async load(raw, { provider, intraOpThreads }) {
    const config = speechPipelineConfig.parse(raw);
    configureTransformers(config.cacheDir);
    const pipe = (await pipeline(config.task as 'automatic-speech-recognition', config.folder, {
      device: provider as 'cpu',
      dtype: config.dtype as 'fp32',
      session_options: { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1 },
    })) as unknown as Pipe;
    const generation = pipe.model.generation_config ?? {};
    // Multilingual Whisper checkpoints name their language tokens; English-only ones have none.
    const languages = Object.entries(generation.lang_to_id ?? {}).map(([token, id]) => ({ code: token.replace(/^<\|(.*)\|>$/, '$1'), id }));

    async function detectLanguage(audio: Float32Array): Promise<{ language: string; probability: number }> {
      const { input_features } = await pipe.processor(audio);
      const start = BigInt(generation.decoder_start_token_id!);
      const { logits } = await pipe.model({ input_features, decoder_input_ids: new Tensor('int64', BigInt64Array.of(start), [1, 1]) });
      // Softmax over the language tokens only, as openai/whisper's detect_language.
      const scores = languages.map((l) => logits.data[l.id]!);
      const top = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - top));
      const total = weights.reduce((a, b) => a + b, 0);
      const best = scores.indexOf(top);
      return { language: languages[best]!.code, probability: weights[best]! / total };
    }

    return {
      call: async ({ input, options }) => {
        if (!(input instanceof Float32Array)) throw new TypeError('transcription takes audio samples');
        const { detect_language: detect, ...rest } = options;
        if (rest.task === 'translate' && !generation.task_to_id?.translate) {
          throw new Error('this model cannot translate: it is an English-only Whisper (its generation_config has no translate task)');
        }
        if (detect !== true || languages.length === 0 || generation.decoder_start_token_id === undefined) {
          return transcriptionOutput.parse(await pipe(input, rest));
        }
        const detected = await detectLanguage(input);
        const output = transcriptionOutput.parse(await pipe(input, { ...rest, language: detected.language }));
        return { ...output, language: detected.language, languageProbability: detected.probability };
      },
      dispose: () => pipe.dispose(),
    };
  },
};

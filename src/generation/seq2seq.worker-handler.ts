/**
 * The `generate` extension of an encoder-decoder text model's session worker: the worker's session
 * is the encoder (the manifest's file), this opens the merged decoder beside it, reads the model's
 * config and tokenizer files, and runs every call on one Seq2SeqGenerator (cohort batching).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { configureTransformers, loadTokenizer } from '../nlp/hf-tokenizer.js';
import type { PlainValue } from '../runtime/work.js';
import type { DescribedSession, GenerateExtension, GenerateHandler } from '../runtime/worker-extension.js';
import type { TensorInfo } from '../runtime/worker-protocol.js';
import type { Seq2SeqModel } from './seq2seq-engine.js';
import {
  MAX_NEW_TOKENS_LIMIT,
  type Seq2SeqCall,
  type Seq2SeqConfig,
  Seq2SeqGenerator,
  type Seq2SeqTokenizer,
  searchDefaults,
} from './seq2seq-generator.js';
import { seq2seqWorkerConfig } from './seq2seq-worker-config.js';

export const extension: GenerateExtension = {
  async load(raw, encoder, open) {
    const spec = seq2seqWorkerConfig.parse(raw);
    const fail = (why: string) => new AppError(ErrorCode.ModelLoadFailed, `model "${spec.model}": ${why}`);
    if (!encoder.inputs.some((t) => t.name === 'input_ids')) throw fail('its encoder takes no input_ids');
    let decoder: DescribedSession;
    try {
      decoder = await open(join(spec.folder, spec.decoderFile));
    } catch (err) {
      throw fail(`the decoder ${spec.decoderFile} could not be opened: ${String(err instanceof Error ? err.message : err).split('\n')[0]}`);
    }
    const has = (name: string) => decoder.inputs.some((t) => t.name === name);
    const selfKey = decoder.inputs.find((t) => t.name === 'past_key_values.0.decoder.key');
    const crossKey = decoder.inputs.find((t) => t.name === 'past_key_values.0.encoder.key');
    if (!has('input_ids') || !has('encoder_hidden_states') || !selfKey || !crossKey) {
      throw fail(
        'a translation / summarization / text2text model needs a merged decoder (onnx/decoder_model_merged.onnx) taking input_ids, ' +
          'encoder_hidden_states and past_key_values.{i}.decoder/encoder.key/value',
      );
    }
    if (selfKey.type !== 'float32' && selfKey.type !== 'float16')
      throw fail(`its cache is ${selfKey.type}; float32 and float16 caches are served`);
    try {
      configureTransformers(spec.cacheDir);
      const [tokenizer, config, generation, tokenizerConfig] = await Promise.all([
        loadTokenizer(spec.folder),
        readJson(spec.folder, 'config.json', true),
        readJson(spec.folder, 'generation_config.json', false),
        readJson(spec.folder, 'tokenizer_config.json', false),
      ]);
      const facts = seq2seqConfig(config, generation, tokenizerConfig, tokenizer.get_vocab());
      const layers = decoder.inputs.filter((t) => /^past_key_values\.\d+\.decoder\.key$/.test(t.name)).length;
      const model: Seq2SeqModel = {
        layers,
        ...headsOf(selfKey, crossKey, config),
        datatype: selfKey.type === 'float16' ? 'FP16' : 'FP32',
        useCacheBranch: has('use_cache_branch'),
        encoderMask: has('encoder_attention_mask'),
        padTokenId: facts.pad,
        encode: async (feeds) => {
          const names = encoder.inputs.map((t) => t.name).filter((n) => n in feeds);
          const out = await encoder.run(Object.fromEntries(names.map((n) => [n, feeds[n]!])), ['last_hidden_state']);
          return out.last_hidden_state!;
        },
        decode: (feeds, outputs) => decoder.run(feeds, outputs),
      };
      const generator = new Seq2SeqGenerator(tokenizer as unknown as Seq2SeqTokenizer, facts, model, {
        maxRows: spec.maxRows,
        maxWaitingRows: spec.queue,
        retryAfterSeconds: spec.retryAfterSeconds,
      });
      return new Seq2SeqCalls(generator);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw fail(
        `tokenizer or config files could not be read: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500)}`,
      );
    }
  },
};

async function readJson(folder: string, name: string, required: boolean): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(folder, name), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

/** Heads and head size of both caches: the graph's fixed dims, else config.json's (d_model / heads). */
function headsOf(selfKey: TensorInfo, crossKey: TensorInfo, config: Record<string, unknown>) {
  const fixed = (info: TensorInfo, axis: number) =>
    typeof info.shape[axis] === 'number' && (info.shape[axis] as number) > 0 ? (info.shape[axis] as number) : undefined;
  const heads = Number(config.decoder_attention_heads ?? config.num_heads ?? config.num_attention_heads);
  const dim = Number(config.d_kv ?? Number(config.d_model ?? config.hidden_size) / heads);
  const need = (v: number | undefined, what: string) => {
    if (v === undefined || !Number.isInteger(v) || v < 1)
      throw new Error(`the decoder's ${what} is neither in its graph nor in config.json`);
    return v;
  };
  return {
    decoderHeads: need(fixed(selfKey, 1) ?? heads, 'heads'),
    decoderHeadDim: need(fixed(selfKey, 3) ?? dim, 'head size'),
    encoderHeads: need(fixed(crossKey, 1) ?? heads, 'heads'),
    encoderHeadDim: need(fixed(crossKey, 3) ?? dim, 'head size'),
  };
}

const int = (v: unknown): number | undefined => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : undefined);

/** The facts generation needs, with Transformers' precedence: generation_config.json over config.json. */
export function seq2seqConfig(
  config: Record<string, unknown>,
  generation: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  vocab: Map<string, number>,
): Seq2SeqConfig {
  const pick = (key: string) => generation[key] ?? config[key];
  const eosRaw = pick('eos_token_id');
  const eos = (Array.isArray(eosRaw) ? eosRaw : [eosRaw]).map(int).filter((v): v is number => v !== undefined);
  const vocabSize = int(config.vocab_size);
  const decoderStart = int(pick('decoder_start_token_id')) ?? int(pick('pad_token_id'));
  if (!vocabSize || decoderStart === undefined || eos.length === 0) {
    throw new Error('config.json needs vocab_size, decoder_start_token_id (or pad_token_id) and eos_token_id');
  }
  const bad = pick('bad_words_ids');
  const badTokens = Array.isArray(bad)
    ? bad
        .filter((w) => Array.isArray(w) && w.length === 1)
        .map((w) => int((w as unknown[])[0]))
        .filter((v): v is number => v !== undefined && v < vocabSize)
    : [];
  const modelMax = int(tokenizerConfig.model_max_length);
  const positions = int(config.max_position_embeddings);
  const maxSource = modelMax !== undefined && modelMax <= 1_000_000 ? modelMax : (positions ?? 512);
  const maxLength = int(generation.max_length);
  const maxTarget = Math.min(
    MAX_NEW_TOKENS_LIMIT + 1,
    positions ?? MAX_NEW_TOKENS_LIMIT + 1,
    maxLength !== undefined && maxLength > 1 ? maxLength : Infinity,
  );
  const languages = new Map<string, number>();
  for (const [piece, id] of vocab) {
    const m2m = /^__([a-z]{2,3}(?:_[A-Za-z]+)?)__$/.exec(piece);
    if (m2m) languages.set(m2m[1]!, id);
    else if (/^[a-z]{3}_[A-Z][a-z]{3}$/.test(piece)) languages.set(piece, id);
  }
  const isMultilingual = config.model_type === 'm2m_100' || config.model_type === 'nllb-moe';
  const taskParams = (
    typeof config.task_specific_params === 'object' && config.task_specific_params !== null ? config.task_specific_params : {}
  ) as Seq2SeqConfig['taskParams'];
  const forcedBos = int(pick('forced_bos_token_id'));
  const forcedEos = int(pick('forced_eos_token_id'));
  return {
    vocabSize,
    decoderStart,
    eos,
    pad: int(pick('pad_token_id')) ?? eos[0]!,
    ...(forcedBos !== undefined ? { forcedBos } : {}),
    ...(forcedEos !== undefined ? { forcedEos } : {}),
    badTokens,
    maxSource,
    maxTarget,
    prefix: typeof config.prefix === 'string' ? config.prefix : '',
    taskParams,
    defaults: searchDefaults({ ...config, ...generation }, 1),
    languages,
    languageTokens: isMultilingual && languages.size > 0,
  };
}

class Seq2SeqCalls implements GenerateHandler {
  constructor(private readonly generator: Seq2SeqGenerator) {}

  async generate(id: number, input: PlainValue): Promise<PlainValue> {
    const answer = await this.generator.generate(id, input as unknown as Seq2SeqCall);
    return { ...answer, engine: this.generator.stats() } as unknown as PlainValue;
  }

  cancel(id: number): void {
    this.generator.cancel(id);
  }
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { choiceSeed, randomSeed, SequenceRng } from './prng.js';
import { NEUTRAL_SAMPLING, Sampler } from './sampler.js';
import { Seq2SeqEngine, type Seq2SeqLimits, type Seq2SeqModel, type Seq2SeqStats } from './seq2seq-engine.js';
import { BeamSearch, type LogitsRules, MAX_BEAMS, type Search, SingleSearch } from './seq2seq-search.js';

/** The three Hugging Face tasks an encoder-decoder text model serves (the pipeline names). */
export type Seq2SeqTask = 'translation' | 'summarization' | 'text2text-generation';

/** One input text's call to the worker (structured-clonable). Absent settings take the model's generation_config.json. */
export interface Seq2SeqCall {
  task: Seq2SeqTask;
  text: string;
  srcLang?: string;
  tgtLang?: string;
  maxNewTokens?: number;
  minNewTokens?: number;
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  noRepeatNgramSize?: number;
  seed?: number;
}

export interface Seq2SeqAnswer {
  text: string;
  sourceTokens: number;
  generatedTokens: number;
}

export interface Seq2SeqTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
}

/** The model's facts from config.json, generation_config.json and tokenizer_config.json. */
export interface Seq2SeqConfig {
  vocabSize: number;
  decoderStart: number;
  eos: number[];
  pad: number;
  forcedBos?: number;
  forcedEos?: number;
  badTokens: number[];
  /** Source tokens the encoder takes (tokenizer model_max_length, else max_position_embeddings). */
  maxSource: number;
  /** Decoder tokens the model takes (max_length of generation_config, else its position limit). */
  maxTarget: number;
  /** config.json `prefix` and `task_specific_params` (T5: "summarize: ", translation_en_to_de...). */
  prefix: string;
  taskParams: Record<string, Record<string, unknown>>;
  /** generation_config.json's search settings. */
  defaults: Partial<Omit<Seq2SeqCall, 'task' | 'text' | 'srcLang' | 'tgtLang' | 'seed'>>;
  /** The language tokens of M2M100 (`__en__`) or NLLB (`eng_Latn`) vocabularies, by language code. */
  languages: Map<string, number>;
  /** M2M100 and NLLB: the source starts with its language token and the target is forced to begin with its own. */
  languageTokens: boolean;
}

/** The default and the largest max_new_tokens (Transformers.js' text2text pipeline default is 256). */
export const DEFAULT_MAX_NEW_TOKENS = 256;
export const MAX_NEW_TOKENS_LIMIT = 1024;

/**
 * Encoder-decoder generation inside a session worker: builds the source (task prefix, language
 * tokens), the rules and search of one call, and runs it on the shared Seq2SeqEngine.
 */
export class Seq2SeqGenerator {
  private readonly engine: Seq2SeqEngine;
  private readonly sampler: Sampler;
  private next = 1;
  private readonly ids = new Map<number, number>();

  constructor(
    private readonly tokenizer: Seq2SeqTokenizer,
    private readonly config: Seq2SeqConfig,
    model: Seq2SeqModel,
    private readonly limits: Seq2SeqLimits & { retryAfterSeconds: number },
  ) {
    this.engine = new Seq2SeqEngine(model, limits);
    this.sampler = new Sampler(config.vocabSize);
  }

  stats(): Seq2SeqStats {
    return this.engine.stats();
  }

  cancel(callId: number): void {
    const id = this.ids.get(callId);
    if (id !== undefined) this.engine.cancel(id);
  }

  async generate(callId: number, call: Seq2SeqCall): Promise<Seq2SeqAnswer> {
    const c = this.config;
    const d = { ...c.defaults, ...(call.task === 'summarization' ? summaryDefaults(c.taskParams.summarization) : {}) };
    const numBeams = call.numBeams ?? d.numBeams ?? 1;
    if (!Number.isInteger(numBeams) || numBeams < 1 || numBeams > MAX_BEAMS) {
      throw invalid('num_beams', `num_beams must be an integer from 1 to ${MAX_BEAMS}, got ${numBeams}`);
    }
    if (numBeams > this.limits.maxRows) {
      throw invalid(
        'num_beams',
        `num_beams ${numBeams} needs ${numBeams} decoder rows; this model runs at most ${this.limits.maxRows} at once`,
      );
    }
    const { source, forcedBos } = this.source(call);
    if (source.length > c.maxSource) {
      throw new AppError(ErrorCode.InputTooLong, `the input has ${source.length} tokens; this model takes at most ${c.maxSource}`);
    }
    const room = c.maxTarget - 1;
    const maxNewTokens = call.maxNewTokens ?? Math.min(DEFAULT_MAX_NEW_TOKENS, d.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS, room);
    if (maxNewTokens > room) {
      throw new AppError(
        ErrorCode.ContextLengthExceeded,
        `max_new_tokens ${maxNewTokens} is more than the ${room} this model's decoder takes`,
      );
    }
    const rules: LogitsRules = {
      eos: c.eos,
      maxNewTokens,
      ...(forcedBos !== undefined ? { forcedBos } : {}),
      ...(c.forcedEos !== undefined ? { forcedEos: c.forcedEos } : {}),
      badTokens: c.badTokens,
      minNewTokens: call.minNewTokens ?? d.minNewTokens ?? 0,
      noRepeatNgram: call.noRepeatNgramSize ?? d.noRepeatNgramSize ?? 0,
    };
    if (this.engine.full(numBeams)) {
      throw new AppError(
        ErrorCode.Overloaded,
        `the model is decoding all the rows it runs at once and ${this.limits.maxWaitingRows} wait; retry later`,
        undefined,
        {
          'Retry-After': String(this.limits.retryAfterSeconds),
        },
      );
    }
    const search = this.search(call, d, numBeams, rules);
    const id = this.next++;
    this.ids.set(callId, id);
    try {
      const tokens = await new Promise<number[]>((resolve, reject) =>
        this.engine.submit({ id, source, decoderPrompt: [c.decoderStart], search, width: numBeams, resolve, reject }),
      );
      return {
        text: this.tokenizer.decode(tokens, { skip_special_tokens: true }),
        sourceTokens: source.length,
        generatedTokens: tokens.length,
      };
    } finally {
      this.ids.delete(callId);
    }
  }

  private search(call: Seq2SeqCall, d: Seq2SeqConfig['defaults'], numBeams: number, rules: LogitsRules): Search {
    if (numBeams > 1) {
      return new BeamSearch(this.config.vocabSize, rules, {
        numBeams,
        lengthPenalty: call.lengthPenalty ?? d.lengthPenalty ?? 1,
        earlyStopping: call.earlyStopping ?? d.earlyStopping ?? false,
      });
    }
    const sample = call.doSample ?? d.doSample ?? false;
    const sampling = {
      ...NEUTRAL_SAMPLING,
      temperature: sample ? (call.temperature ?? d.temperature ?? 1) : 0,
      topK: call.topK ?? d.topK ?? (sample ? 50 : 0),
      topP: call.topP ?? d.topP ?? 1,
      repetitionPenalty: call.repetitionPenalty ?? d.repetitionPenalty ?? 1,
    };
    return new SingleSearch(this.sampler, rules, sampling, new SequenceRng(choiceSeed(call.seed ?? randomSeed(), 0)));
  }

  /** The source token ids and the forced first target token, from the text, the task's prefix and the languages. */
  private source(call: Seq2SeqCall): { source: number[]; forcedBos?: number } {
    const c = this.config;
    let text = c.prefix + call.text;
    const task = call.task === 'translation' && call.srcLang && call.tgtLang ? `translation_${call.srcLang}_to_${call.tgtLang}` : call.task;
    const params = c.taskParams[task];
    if (c.languageTokens) {
      const src = this.language('src_lang', call.srcLang);
      const tgt = this.language('tgt_lang', call.tgtLang);
      const ids = this.tokenizer.encode(text, { add_special_tokens: false });
      return { source: [src, ...ids, ...c.eos.slice(0, 1)], forcedBos: tgt };
    }
    if (typeof params?.prefix === 'string') text = params.prefix + text;
    else if (
      call.task === 'translation' &&
      (call.srcLang || call.tgtLang) &&
      Object.keys(c.taskParams).some((k) => k.startsWith('translation_'))
    ) {
      const pairs = Object.keys(c.taskParams).filter((k) => k.startsWith('translation_'));
      throw invalid(
        'tgt_lang',
        `this model translates ${pairs.map((p) => p.slice('translation_'.length).replace('_to_', ' -> ')).join(', ')}; not ${call.srcLang ?? '?'} -> ${call.tgtLang ?? '?'}`,
      );
    }
    return {
      source: this.tokenizer.encode(text, { add_special_tokens: true }),
      ...(c.forcedBos !== undefined ? { forcedBos: c.forcedBos } : {}),
    };
  }

  private language(field: 'src_lang' | 'tgt_lang', code: string | undefined): number {
    const known = [...this.config.languages.keys()];
    if (!code)
      throw invalid(field, `this model needs ${field} (one of ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})`);
    const id = this.config.languages.get(code);
    if (id === undefined)
      throw invalid(
        field,
        `${field} "${code}" is not a language of this model (${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})`,
      );
    return id;
  }
}

function invalid(field: string, message: string): AppError {
  return new AppError(ErrorCode.ValidationFailed, message, [{ field: `parameters.${field}`, problems: [message] }]);
}

/** task_specific_params.summarization (BART-CNN: beams, length penalty, min/max length, no-repeat n-grams) as call defaults. */
function summaryDefaults(params: Record<string, unknown> | undefined): Seq2SeqConfig['defaults'] {
  return params ? searchDefaults(params, 1) : {};
}

/** Search settings of a generation_config.json (or task_specific_params entry); `promptLength` turns max/min_length into new tokens. */
export function searchDefaults(g: Record<string, unknown>, promptLength: number): Seq2SeqConfig['defaults'] {
  const num = (key: string, ok: (v: number) => boolean) => {
    const v = g[key];
    return typeof v === 'number' && Number.isFinite(v) && ok(v) ? v : undefined;
  };
  const int = (v: number) => Number.isInteger(v);
  const found = {
    numBeams: num('num_beams', (v) => int(v) && v >= 1 && v <= MAX_BEAMS),
    lengthPenalty: num('length_penalty', () => true),
    earlyStopping: g.early_stopping === true || g.early_stopping === false || g.early_stopping === 'never' ? g.early_stopping : undefined,
    noRepeatNgramSize: num('no_repeat_ngram_size', (v) => int(v) && v >= 0),
    minNewTokens:
      num('min_length', (v) => int(v) && v >= 0) !== undefined ? Math.max(0, (g.min_length as number) - promptLength) : undefined,
    maxNewTokens:
      num('max_new_tokens', (v) => int(v) && v >= 1) ??
      (num('max_length', (v) => int(v) && v > promptLength) !== undefined ? (g.max_length as number) - promptLength : undefined),
    doSample: typeof g.do_sample === 'boolean' ? g.do_sample : undefined,
    temperature: num('temperature', (v) => v > 0),
    topK: num('top_k', (v) => int(v) && v >= 0),
    topP: num('top_p', (v) => v > 0 && v <= 1),
    repetitionPenalty: num('repetition_penalty', (v) => v > 0),
  };
  return Object.fromEntries(Object.entries(found).filter(([, v]) => v !== undefined));
}

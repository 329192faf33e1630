import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { configureTransformers, loadTokenizer, type PreTrainedTokenizer } from './hf-tokenizer.js';
import type { EmbedResult } from '../runtime/model-runner.js';
import type { EmbedPart } from '../runtime/work.js';
import type { Tensor } from '../contracts/tensor.js';
import { checkTokenIds, encodeTexts, maxLengthOf, padIds, type PaddedBatch, textParameters, type TextParameters } from './text-features.js';
import { type TaskModel, TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { checkModelInputs } from '../tasks/input-count.js';

/**
 * A Hugging Face-layout text model: its runner and its config.json. Routes whose model runs whole
 * in its workers (embeddings, text classification) need no tokenizer on this thread.
 */
export interface TextModel extends TaskModel {
  /** config.json's id2label in id order, when it has one. */
  id2label?: string[];
  problemType?: string;
  maxPositionEmbeddings?: number;
  params: TextParameters;
}

/** A text model with its tokenizer loaded on this thread, for routes that tokenize here. */
export interface TokenizedTextModel extends TextModel {
  tokenizer: PreTrainedTokenizer;
  maxLength: number;
  /** Token ids the tokenizer knows (token-array inputs must stay below it). */
  vocabularySize: number;
}

const hfConfig = z.looseObject({
  id2label: z.record(z.string(), z.string()).optional(),
  problem_type: z.string().optional(),
  max_position_embeddings: z.number().int().optional(),
});

/** One batch of token ids as the model's int64 inputs, with what the tokenizer made of each text. */
export interface EncodedBatch extends PaddedBatch {
  ids: number[][];
}

/** A request's texts as one vector each (embeddings or logits), from the model's workers. */
export interface EmbeddedTexts {
  /** One per input, in input order. */
  vectors: Float32Array[];
  width: number;
  tokens: number;
}

@Injectable()
export class TextModels {
  private readonly configs = new Map<string, Promise<z.infer<typeof hfConfig>>>();
  private readonly tokenizers = new Map<string, Promise<{ tokenizer: PreTrainedTokenizer; vocabularySize: number }>>();
  private readonly models = new WeakMap<TaskModel, TextModel>();

  constructor(
    private readonly tasks: TaskModels,
    @InjectConfig() config: AppConfig,
  ) {
    configureTransformers(config.database.embedded.dataDir);
  }

  async get(name: string, tasks: readonly string[], trace: TaskTrace): Promise<TextModel> {
    const model = await this.tasks.get(name, tasks, trace);
    // Worked out once per loaded model (a reload or a re-indexed manifest gives a new TaskModel), not on every request.
    const known = this.models.get(model);
    if (known) return known;
    const folder = model.folder;
    if (!folder) {
      throw new AppError(
        ErrorCode.ModelLoadFailed,
        `model "${name}" is not a Hugging Face-layout model (its manifest source has no "huggingface" folder)`,
      );
    }
    const config = await cached(this.configs, keyOf(model), async () =>
      hfConfig.parse(JSON.parse(await readFile(resolve(folder, 'config.json'), 'utf8'))),
    ).catch((err: Error) => {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${name}": config.json could not be read: ${err.message}`);
    });
    const id2label = config.id2label
      ? Object.entries(config.id2label)
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([, label]) => label)
      : undefined;
    const text: TextModel = {
      ...model,
      problemType: config.problem_type,
      maxPositionEmbeddings: config.max_position_embeddings,
      params: textParameters.parse(model.manifest.parameters),
      id2label,
    };
    this.models.set(model, text);
    return text;
  }

  /** The model with its tokenizer, loaded on this thread once per version. */
  async tokenized(model: TextModel): Promise<TokenizedTextModel> {
    const folder = model.folder!;
    const { tokenizer, vocabularySize } = await cached(this.tokenizers, keyOf(model), async () => {
      const tokenizer = await loadTokenizer(folder);
      // get_vocab() builds a new Map on every call: read its size once.
      return { tokenizer, vocabularySize: tokenizer.get_vocab().size };
    }).catch((err: Error) => {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}": tokenizer could not be read: ${err.message}`);
    });
    return { ...model, tokenizer, vocabularySize, maxLength: maxLengthOf(model.params, tokenizer, model.maxPositionEmbeddings) };
  }

  /**
   * Tokenizes texts, refusing (413 INPUT_TOO_LONG) or truncating inputs longer than the model takes.
   * Token arrays are taken as they are.
   */
  encode(
    model: TokenizedTextModel,
    inputs: ReadonlyArray<string | readonly number[]>,
    truncate: boolean,
    from: 'left' | 'right' = 'right',
  ): number[][] {
    checkTokenIds(inputs, model.vocabularySize, model.name);
    return encodeTexts(model.tokenizer, inputs, { model: model.name, maxLength: model.maxLength, truncate, from });
  }

  /** Pads ids into the model's inputs (input_ids, attention_mask, token_type_ids as it declares). */
  batch(model: TokenizedTextModel, ids: readonly number[][]): EncodedBatch {
    const names = model.manifest.inputs.map((t) => t.name);
    return { ...padIds(ids, names, model.tokenizer.pad_token_id ?? 0, model.maxLength, model.name), ids: ids.map((r) => [...r]) };
  }

  /**
   * One vector per text from a text encoder (pooled as the manifest says) or a sequence classifier
   * (its logits): tokenized, run and pooled in the model's workers, in calls of at most
   * maxBatchSize texts that the batcher merges with other requests'. Texts over the model's limit:
   * 413 INPUT_TOO_LONG, or cut when `truncate`.
   */
  async embed(
    model: TextModel,
    inputs: ReadonlyArray<string | readonly number[]>,
    truncate: boolean,
    trace: TaskTrace,
    options: Pick<EmbedPart, 'truncateFrom' | 'normalize'> = {},
  ): Promise<EmbeddedTexts> {
    const size = Math.max(1, model.manifest.maxBatchSize);
    checkModelInputs(model, inputs.length, 'inputs', size);
    const calls: Array<Promise<EmbedResult>> = [];
    for (let i = 0; i < inputs.length; i += size) {
      calls.push(model.runner.embed({ inputs: inputs.slice(i, i + size) as Array<string | number[]>, truncate, offset: i, ...options }));
    }
    const results = await Promise.all(calls);
    const vectors: Float32Array[] = [];
    let tokens = 0;
    let width = 0;
    for (const r of results) {
      for (let k = 0; k < r.vectors.length; k += r.width) vectors.push(r.vectors.subarray(k, k + r.width));
      tokens += r.tokens;
      width = r.width;
      trace.queueMs += r.queueMs;
      trace.inferenceMs += r.inferenceMs;
    }
    return { vectors, width, tokens };
  }

  /**
   * Runs texts through the model in chunks of at most maxBatchSize rows (concurrently, so the
   * batcher can merge them with other requests) and returns each chunk's output with its batch.
   */
  async run(
    model: TokenizedTextModel,
    ids: readonly number[][],
    output: string,
    trace: TaskTrace,
  ): Promise<Array<{ batch: EncodedBatch; output: Tensor }>> {
    const size = model.manifest.maxBatchSize > 0 ? model.manifest.maxBatchSize : 1;
    checkModelInputs(model, ids.length, 'inputs', size);
    const chunks: number[][][] = [];
    for (let i = 0; i < ids.length; i += size) chunks.push(ids.slice(i, i + size) as number[][]);
    return Promise.all(
      chunks.map(async (chunk) => {
        const batch = this.batch(model, chunk);
        const result = await this.tasks.run(model, batch.inputs, [output], trace);
        return { batch, output: result[output]! };
      }),
    );
  }
}

const keyOf = (model: TaskModel) => `${model.name}/${model.version}:${model.folder}`;

/** The promise `load` gives for `key`, made once; a failed load is forgotten so the next call retries. */
function cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (!value) {
    value = load();
    cache.set(key, value);
    value.catch(() => cache.delete(key));
  }
  return value;
}

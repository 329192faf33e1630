import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import type { NamedTensors, Tensor } from '../runtime/tensor.js';
import { type TaskModel, TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { configureTransformers, loadTokenizer, type PreTrainedTokenizer } from './hf-tokenizer.js';

/** A Hugging Face-layout text model: its runner, its tokenizer and its config.json. */
export interface TextModel extends TaskModel {
  tokenizer: PreTrainedTokenizer;
  /** config.json's id2label in id order, when it has one. */
  id2label?: string[];
  problemType?: string;
  maxLength: number;
  /** Token ids the tokenizer knows (token-array inputs must stay below it). */
  vocabularySize: number;
  params: TextParameters;
}

const textParameters = z.object({
  /** How token vectors become one: mean over the attention mask, the first token, or none (the model pools). */
  pooling: z.enum(['mean', 'cls', 'none']).default('mean'),
  normalize: z.boolean().default(true),
  /** The output to read; default the manifest's first. */
  output: z.string().min(1).optional(),
  maxLength: z.number().int().min(1).optional(),
});
export type TextParameters = z.infer<typeof textParameters>;

const hfConfig = z.looseObject({
  id2label: z.record(z.string(), z.string()).optional(),
  problem_type: z.string().optional(),
  max_position_embeddings: z.number().int().optional(),
});

/** One batch of token ids as the model's int64 inputs, with what the tokenizer made of each text. */
export interface EncodedBatch {
  inputs: NamedTensors;
  rows: number;
  seqLength: number;
  /** Real tokens per row (special tokens included). */
  lengths: number[];
  ids: number[][];
}

/** Sequence lengths are padded up to a multiple of this, so requests of similar length batch together. */
const LENGTH_BUCKET = 8;

@Injectable()
export class TextModels {
  private readonly cache = new Map<string, Promise<{ tokenizer: PreTrainedTokenizer; config: z.infer<typeof hfConfig>; vocabularySize: number }>>();
  private readonly derived = new WeakMap<object, Pick<TextModel, 'params' | 'id2label' | 'maxLength'>>();

  constructor(
    private readonly tasks: TaskModels,
    @InjectConfig() config: AppConfig,
  ) {
    configureTransformers(config.database.embedded.dataDir);
  }

  async get(name: string, tasks: readonly string[], trace: TaskTrace): Promise<TextModel> {
    const model = await this.tasks.get(name, tasks, trace);
    const folder = model.folder;
    if (!folder) {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${name}" is not a Hugging Face-layout model (its manifest source has no "huggingface" folder)`);
    }
    const key = `${name}/${model.version}:${folder}`;
    let loaded = this.cache.get(key);
    if (!loaded) {
      loaded = (async () => {
        const [tokenizer, configText] = await Promise.all([loadTokenizer(folder), readFile(resolve(folder, 'config.json'), 'utf8')]);
        // get_vocab() builds a new Map on every call: read its size once.
        return { tokenizer, config: hfConfig.parse(JSON.parse(configText)), vocabularySize: tokenizer.get_vocab().size };
      })();
      this.cache.set(key, loaded);
      loaded.catch(() => this.cache.delete(key));
    }
    const { tokenizer, config, vocabularySize } = await loaded.catch((err: Error) => {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${name}": tokenizer or config.json could not be read: ${err.message}`);
    });
    // Worked out once per manifest (a re-indexed model has a new one), not on every request.
    let derived = this.derived.get(model.manifest);
    if (!derived) {
      const params = textParameters.parse(model.manifest.parameters);
      const id2label = config.id2label
        ? Object.entries(config.id2label).sort(([a], [b]) => Number(a) - Number(b)).map(([, label]) => label)
        : undefined;
      const tokenizerMax = Number(tokenizer.model_max_length);
      const maxLength = params.maxLength ?? (Number.isFinite(tokenizerMax) && tokenizerMax < 1e6 ? tokenizerMax : config.max_position_embeddings ?? 512);
      derived = { params, id2label, maxLength };
      this.derived.set(model.manifest, derived);
    }
    return { ...model, tokenizer, problemType: config.problem_type, vocabularySize, ...derived };
  }

  /**
   * Tokenizes texts, refusing (413 INPUT_TOO_LONG) or truncating inputs longer than the model takes.
   * Token arrays are taken as they are.
   */
  encode(model: TextModel, inputs: ReadonlyArray<string | readonly number[]>, truncate: boolean): number[][] {
    return inputs.map((input, i) => {
      if (typeof input !== 'string') {
        const bad = input.find((id) => id >= model.vocabularySize);
        if (bad !== undefined) throw new AppError(ErrorCode.ValidationFailed, `input ${i} has token id ${bad}; model "${model.name}" has ${model.vocabularySize} tokens`);
      }
      const ids = typeof input === 'string' ? model.tokenizer.encode(input) : [...input];
      if (ids.length <= model.maxLength) return ids;
      if (!truncate) {
        throw new AppError(ErrorCode.InputTooLong, `input ${i} has ${ids.length} tokens; model "${model.name}" takes at most ${model.maxLength} (send "truncate": true to cut it)`);
      }
      // Keep the closing special token (e.g. [SEP]) when the tokenizer added one.
      const last = ids.at(-1)!;
      const closes = typeof input === 'string' && model.tokenizer.all_special_ids.includes(last);
      return closes ? [...ids.slice(0, model.maxLength - 1), last] : ids.slice(0, model.maxLength);
    });
  }

  /** Pads ids into the model's inputs (input_ids, attention_mask, token_type_ids as it declares). */
  batch(model: TextModel, ids: readonly number[][]): EncodedBatch {
    const rows = ids.length;
    const longest = Math.max(1, ...ids.map((r) => r.length));
    const seqLength = Math.min(Math.max(longest, Math.ceil(longest / LENGTH_BUCKET) * LENGTH_BUCKET), Math.max(longest, model.maxLength));
    const pad = BigInt(model.tokenizer.pad_token_id ?? 0);
    const inputIds = new BigInt64Array(rows * seqLength).fill(pad);
    const mask = new BigInt64Array(rows * seqLength);
    ids.forEach((row, r) => {
      row.forEach((id, c) => {
        inputIds[r * seqLength + c] = BigInt(id);
        mask[r * seqLength + c] = 1n;
      });
    });
    const shape = [rows, seqLength];
    const inputs: NamedTensors = {};
    for (const spec of model.manifest.inputs) {
      let tensor: Tensor;
      if (spec.name === 'input_ids') tensor = { datatype: 'INT64', shape, data: inputIds };
      else if (spec.name === 'attention_mask') tensor = { datatype: 'INT64', shape, data: mask };
      else if (spec.name === 'token_type_ids') tensor = { datatype: 'INT64', shape, data: new BigInt64Array(rows * seqLength) };
      else throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}" has an input "${spec.name}" the text routes cannot fill`);
      inputs[spec.name] = tensor;
    }
    return { inputs, rows, seqLength, lengths: ids.map((r) => r.length), ids: ids.map((r) => [...r]) };
  }

  /**
   * Runs texts through the model in chunks of at most maxBatchSize rows (concurrently, so the
   * batcher can merge them with other requests) and returns each chunk's output with its batch.
   */
  async run(model: TextModel, ids: readonly number[][], output: string, trace: TaskTrace): Promise<Array<{ batch: EncodedBatch; output: Tensor }>> {
    const size = model.manifest.maxBatchSize > 0 ? model.manifest.maxBatchSize : 1;
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

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { validate } from '../common/http/validate-body.js';
import { LATHE_VERSION } from '../common/version.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { tasksFor } from '../contracts/task-table.js';
import { type ScoreFunction, toScores, topK } from '../tasks/scores.js';
import { TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { checkInputCount } from '../tasks/input-count.js';
import { normaliseInPlace } from './text-features.js';
import { type TextModel, TextModels } from './text-models.service.js';
import { TeiPairs } from './tei-pairs.js';
import { hfFeatureRequest, hfModel, type ModelQuery } from './hf-inference.js';
import { rank } from './tei-text.js';
import { BATCH_LIMIT, readPredictInputs, readTeiInputs, type TeiToken, tokensOf } from './tei-inputs.js';
import {
  TEI_MAX_CLIENT_BATCH,
  TEI_MAX_DECODE_IDS,
  teiDecodeRequest,
  teiEmbedAllRequest,
  teiEmbedRequest,
  teiPredictRequest,
  teiRerankRequest,
  teiTokenizeRequest,
} from './tei-schemas.js';

const EMBED_TASKS = tasksFor('embeddings');
const CLASSIFY_TASKS = tasksFor('textClassify');
const TEXT_TASKS = [...EMBED_TASKS, ...CLASSIFY_TASKS, ...tasksFor('textTokens')];

const sentenceTransformersConfig = z.looseObject({ prompts: z.record(z.string(), z.string()).optional() });

/**
 * text-embeddings-inference's routes over repository models: the same tokenizers, workers and
 * batcher as Lathe's own text routes, answered in TEI's shapes.
 */
@Injectable()
export class TeiService {
  private readonly prompts = new Map<string, Promise<Record<string, string>>>();
  private readonly pairs: TeiPairs;

  constructor(
    private readonly text: TextModels,
    tasks: TaskModels,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.pairs = new TeiPairs(tasks);
  }

  /** The model a root TEI route serves: the `?model=` query's, else the X-Model header's, else LATHE_TEI_MODEL. */
  modelFor(query: { model?: string }, header: string | string[] | undefined): string {
    const named = query.model ?? (Array.isArray(header) ? header[0] : header)?.trim();
    const model = named || this.config.models.teiModel;
    if (!model) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        'no model named: add ?model=NAME, send the X-Model header, use /tei/{model}/..., or set LATHE_TEI_MODEL on the server',
      );
    }
    return model;
  }

  /** /embed: one pooled vector per input, in the model's workers. */
  async embed(name: string, body: unknown, trace: TaskTrace): Promise<number[][]> {
    const r = validate(teiEmbedRequest, body);
    const vectors = await this.vectors(name, r, trace);
    return vectors.map((v) => Array.from(v));
  }

  /** Hugging Face's feature-extraction: one vector for a string, a list of vectors for a list. */
  async featureExtraction(body: unknown, query: ModelQuery, trace: TaskTrace): Promise<number[] | number[][]> {
    const r = validate(hfFeatureRequest, body);
    const vectors = (await this.vectors(hfModel(r.model, query), r, trace)).map((v) => Array.from(v));
    const single = typeof r.inputs === 'string' || (Array.isArray(r.inputs) && r.inputs.every((x) => typeof x === 'number'));
    return single ? vectors[0]! : vectors;
  }

  /**
   * Pooled vectors as /embed and Hugging Face's feature-extraction give them: TEI's options
   * (normalize, truncate and its direction, prompt_name, dimensions) over the model's workers.
   */
  async vectors(name: string, r: z.infer<typeof teiEmbedRequest>, trace: TaskTrace): Promise<Float32Array[]> {
    const { inputs } = readTeiInputs(r.inputs, true);
    const model = await this.text.get(name, EMBED_TASKS, trace);
    const texts = await this.prompted(model, inputs, r.prompt_name);
    const options = { truncateFrom: r.truncation_direction, normalize: r.normalize };
    const { vectors, width } = await this.text.embed(model, texts, r.truncate ?? false, trace, options);
    const dims = r.dimensions ?? undefined;
    if (dims === undefined) return vectors;
    if (dims > width) throw new AppError(ErrorCode.ValidationFailed, `dimensions ${dims} is more than model "${name}" gives (${width})`);
    return vectors.map((v) => (r.normalize ? normaliseInPlace(v.slice(0, dims)) : v.slice(0, dims)));
  }

  /** /embed_all: every token's vector (special tokens included), unpooled. */
  async embedAll(name: string, body: unknown, trace: TaskTrace): Promise<number[][][]> {
    const r = validate(teiEmbedAllRequest, body);
    const { inputs } = readTeiInputs(r.inputs, true);
    const model = await this.text.tokenized(await this.text.get(name, EMBED_TASKS, trace));
    const output = model.params.output ?? model.manifest.outputs[0]!.name;
    const ids = this.text.encode(model, await this.prompted(model, inputs, r.prompt_name), r.truncate ?? false, r.truncation_direction);
    const results: number[][][] = [];
    for (const { batch, output: tensor } of await this.text.run(model, ids, output, trace)) {
      if (tensor.shape.length !== 3) {
        throw new AppError(
          ErrorCode.ValidationFailed,
          `model "${name}" gives pooled vectors only (its output "${output}" has no token axis)`,
        );
      }
      const width = tensor.shape[2]!;
      const data = tensor.data as Float32Array;
      batch.lengths.forEach((length, row) => {
        const at = row * batch.seqLength * width;
        results.push(Array.from({ length }, (_, t) => Array.from(data.subarray(at + t * width, at + (t + 1) * width))));
      });
    }
    return results;
  }

  /** /embed_sparse: a SPLADE model's vector (pooling "splade") as its non-zero entries; other models are refused. */
  async embedSparse(name: string, body: unknown, trace: TaskTrace): Promise<Array<Array<{ index: number; value: number }>>> {
    const r = validate(teiEmbedAllRequest, body);
    const { inputs } = readTeiInputs(r.inputs, true);
    const model = await this.text.get(name, TEXT_TASKS, trace);
    if (!EMBED_TASKS.includes(model.manifest.task as never) || model.params.pooling !== 'splade') {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `model "${name}" gives no sparse embeddings: /embed_sparse needs a SPLADE model (a masked-LM whose manifest says "pooling": "splade"); use /embed`,
      );
    }
    const texts = await this.prompted(model, inputs, r.prompt_name);
    const options = { truncateFrom: r.truncation_direction, normalize: false };
    const { vectors } = await this.text.embed(model, texts, r.truncate ?? false, trace, options);
    return vectors.map((v) => {
      const entries: Array<{ index: number; value: number }> = [];
      v.forEach((value, index) => value > 0 && entries.push({ index, value }));
      return entries;
    });
  }

  /** /rerank: a cross-encoder (a one-label sequence classifier) scores (query, text) pairs, best first. */
  async rerank(name: string, body: unknown, trace: TaskTrace) {
    const r = validate(teiRerankRequest, body);
    if (r.texts.length === 0) throw new AppError(ErrorCode.EmptyBody, '`texts` cannot be empty');
    checkInputCount(r.texts.length, TEI_MAX_CLIENT_BATCH, 'texts', BATCH_LIMIT);
    const model = await this.text.tokenized(await this.text.get(name, CLASSIFY_TASKS, trace));
    const classes = (model.id2label ?? model.labels)?.length;
    if (classes !== 1) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `model "${name}" is not a re-ranker: a cross-encoder has one label, this classifier has ${classes ?? 'no'} labels (use /predict)`,
      );
    }
    const logits = await this.pairs.score(
      model,
      r.texts.map((t) => [r.query, t]),
      r.truncate ?? false,
      r.truncation_direction,
      trace,
    );
    const scores = logits.map((l) => toScores(l, r.raw_scores ? 'none' : 'sigmoid')[0]!);
    return rank(scores, r.texts, r.return_text);
  }

  /** /predict: every label with its score, best first, for a text or a text pair; a batch gives one list each. */
  async predict(name: string, body: unknown, trace: TaskTrace) {
    const r = validate(teiPredictRequest, body);
    const { pairs, single } = readPredictInputs(r.inputs);
    const model = await this.text.tokenized(await this.text.get(name, CLASSIFY_TASKS, trace));
    const labels = model.id2label ?? model.labels;
    const logits = await this.pairs.score(model, pairs, r.truncate ?? false, r.truncation_direction, trace);
    const fn: ScoreFunction = r.raw_scores ? 'none' : logits[0]!.length === 1 ? 'sigmoid' : 'softmax';
    const results = logits.map((l) => topK(toScores(l, fn), labels, l.length));
    return single ? results[0]! : results;
  }

  /** /tokenize: each text's tokens with TEI's byte offsets into the (prompted) text. */
  async tokenize(name: string, body: unknown, trace: TaskTrace): Promise<TeiToken[][]> {
    const r = validate(teiTokenizeRequest, body);
    const { inputs } = readTeiInputs(r.inputs, false);
    const model = await this.text.tokenized(await this.text.get(name, TEXT_TASKS, trace));
    const texts = (await this.prompted(model, inputs, r.prompt_name)) as string[];
    return texts.map((text) => tokensOf(model, text, r.add_special_tokens));
  }

  /** /decode: token ids back to text, one string per list. */
  async decode(name: string, body: unknown, trace: TaskTrace): Promise<string[]> {
    const r = validate(teiDecodeRequest, body);
    const lists = r.ids.length > 0 && Array.isArray(r.ids[0]) ? (r.ids as number[][]) : [r.ids as number[]];
    checkInputCount(lists.length, TEI_MAX_CLIENT_BATCH, 'id lists', BATCH_LIMIT);
    const model = await this.text.tokenized(await this.text.get(name, TEXT_TASKS, trace));
    return lists.map((ids, i) => {
      if (ids.length > TEI_MAX_DECODE_IDS)
        throw new AppError(ErrorCode.ValidationFailed, `ids[${i}] has ${ids.length} ids; at most ${TEI_MAX_DECODE_IDS}`);
      const bad = ids.find((id) => id >= model.vocabularySize);
      if (bad !== undefined)
        throw new AppError(ErrorCode.ValidationFailed, `ids[${i}] has token id ${bad}; model "${name}" has ${model.vocabularySize} tokens`);
      // Transformers.js refuses an empty list; decoding nothing gives the empty text.
      return ids.length === 0 ? '' : model.tokenizer.decode(ids, { skip_special_tokens: r.skip_special_tokens });
    });
  }

  /** /info: TEI's model description, from the manifest, config.json and the tokenizer. */
  async info(name: string, trace: TaskTrace) {
    const model = await this.text.tokenized(await this.text.get(name, TEXT_TASKS, trace));
    const batch = Math.max(1, model.manifest.maxBatchSize);
    return {
      model_id: name,
      model_sha: null,
      model_dtype: 'float32',
      model_type: modelType(model),
      served_model_name: name,
      max_concurrent_requests: model.manifest.queue.maxSize,
      max_input_length: model.maxLength,
      max_batch_tokens: batch * model.maxLength,
      max_batch_requests: batch,
      max_client_batch_size: TEI_MAX_CLIENT_BATCH,
      auto_truncate: false,
      tokenization_workers: model.manifest.instances,
      version: LATHE_VERSION,
      sha: null,
      docker_label: null,
    };
  }

  /** Texts with the model's named sentence-transformers prompt in front; token arrays as they are. */
  private async prompted(model: TextModel, inputs: Array<string | number[]>, promptName: string | null | undefined) {
    if (promptName === undefined || promptName === null) return inputs;
    const folder = model.folder!;
    let prompts = this.prompts.get(folder);
    if (!prompts) {
      prompts = readFile(join(folder, 'config_sentence_transformers.json'), 'utf8')
        .then((text) => sentenceTransformersConfig.parse(JSON.parse(text)).prompts ?? {})
        .catch(() => ({}));
      this.prompts.set(folder, prompts);
    }
    const prompt = (await prompts)[promptName];
    if (prompt === undefined) {
      const known = Object.keys(await prompts);
      throw new AppError(
        ErrorCode.ValidationFailed,
        `prompt_name "${promptName}" is not one of model "${model.name}"'s prompts (${known.length ? known.join(', ') : 'it has none'})`,
      );
    }
    return inputs.map((input) => (typeof input === 'string' ? prompt + input : input));
  }
}

function modelType(model: TextModel) {
  if (EMBED_TASKS.includes(model.manifest.task as never)) return { embedding: { pooling: model.params.pooling } };
  const labels = model.id2label ?? model.labels ?? [];
  const classifier = {
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  return labels.length === 1 ? { reranker: classifier } : { classifier };
}

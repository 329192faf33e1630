import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type LabelScore, type ScoreFunction, toScores, topK } from '../tasks/scores.js';
import { type TaskModel, TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { EmbeddingsService } from './embeddings.service.js';
import { type AggregationStrategy, aggregate, type GroupedEntity, type TokenEntity, type TokenPrediction } from './token-aggregation.js';
import { tokenSpans } from './token-offsets.js';
import { validate } from '../common/http/validate-body.js';
import { readTextInputs } from './text-input.js';
import { type TextModel, TextModels } from './text-models.service.js';
import { checkModelInputs } from '../tasks/input-count.js';
import { tasksFor } from '../contracts/task-table.js';
import { HF_ALL_LABELS, hfClassifyRequest, hfModel, hfTokensRequest, isHfBody, type ModelQuery } from './hf-inference.js';

const MAX_TEXT_INPUTS = 256;

export const classifyRequest = z
  .object({
    model: z.string().min(1).max(200),
    inputs: z.unknown().meta({ description: 'a string or a list of strings' }),
    /** How many labels per input, best first (Hugging Face's top_k); default 1. */
    top_k: z.number().int().min(1).max(100_000).optional(),
    function_to_apply: z.enum(['softmax', 'sigmoid', 'none']).optional(),
    truncate: z.boolean().default(false),
  })
  .strict();

export const tokensRequest = z
  .object({
    model: z.string().min(1).max(200),
    inputs: z.unknown().meta({ description: 'a string or a list of strings' }),
    aggregation_strategy: z.enum(['none', 'simple', 'first', 'max', 'average']).default('none'),
    ignore_labels: z.array(z.string()).default(['O']),
    truncate: z.boolean().default(false),
  })
  .strict();

/** Hugging Face's text-classification and token-classification tasks over repository models. */
@Injectable()
export class TextClassifyService {
  constructor(
    private readonly text: TextModels,
    private readonly tasks: TaskModels,
    private readonly embeddings: EmbeddingsService,
  ) {}

  /**
   * One `[{label, score}]` per input (best first), or just that list for a single string. A
   * Hugging Face Inference body gets every label unless `parameters.top_k` says otherwise, and
   * always one list per input, as that API answers.
   */
  async classify(body: unknown, trace: TaskTrace, query: ModelQuery = {}): Promise<LabelScore[] | LabelScore[][]> {
    if (!isHfBody(body)) {
      const { results, single } = await this.classifyTexts(validate(classifyRequest, body), trace);
      return single ? results[0]! : results;
    }
    const hf = validate(hfClassifyRequest, body);
    const r = classifyRequest.parse({
      model: hfModel(hf.model, query),
      inputs: hf.inputs,
      top_k: hf.parameters?.top_k ?? HF_ALL_LABELS,
      function_to_apply: hf.parameters?.function_to_apply,
    });
    return (await this.classifyTexts(r, trace)).results;
  }

  private async classifyTexts(r: z.infer<typeof classifyRequest>, trace: TaskTrace): Promise<{ results: LabelScore[][]; single: boolean }> {
    const { inputs, single } = readTextInputs(r.inputs, 'inputs', MAX_TEXT_INPUTS);
    const head = await this.tasks.get(r.model, tasksFor('textClassify'), trace);
    const backbone = headParameters.safeParse(head.manifest.parameters);
    if (backbone.success) {
      const results = await this.classifyWithHead(
        head,
        backbone.data.backbone,
        inputs as string[],
        r.top_k ?? 1,
        r.function_to_apply,
        trace,
      );
      return { results, single };
    }
    const model = await this.text.get(r.model, tasksFor('textClassify'), trace);
    // Tokenized and run in the model's workers; each text's logits come back.
    const { vectors } = await this.text.embed(model, inputs, r.truncate, trace);
    const fn: ScoreFunction = r.function_to_apply ?? defaultFunction(model);
    const labels = model.id2label ?? model.labels;
    const results = vectors.map((logits) => topK(toScores(logits, fn), labels, r.top_k ?? 1));
    return { results, single };
  }

  /**
   * A fine-tuned model: the backbone's features (as /v1/embeddings gives them), then the head's
   * session, both through the runtime; the head's batcher merges requests.
   */
  private async classifyWithHead(
    head: TaskModel,
    backbone: string,
    texts: string[],
    k: number,
    fn: ScoreFunction | undefined,
    trace: TaskTrace,
  ): Promise<LabelScore[][]> {
    const size = head.manifest.maxBatchSize > 0 ? head.manifest.maxBatchSize : 1;
    checkModelInputs(head, texts.length, 'inputs', size);
    const { vectors: features } = await this.embeddings.features(backbone, texts, trace);
    const input = head.manifest.inputs[0]!;
    const output = head.manifest.outputs[0]!.name;
    const scores = fn ?? headParameters.parse(head.manifest.parameters).scores;
    const chunks: Float32Array[][] = [];
    for (let i = 0; i < features.length; i += size) chunks.push(features.slice(i, i + size));
    const results = await Promise.all(
      chunks.map(async (rows) => {
        const width = rows[0]!.length;
        const data = new Float32Array(rows.length * width);
        rows.forEach((row, i) => data.set(row, i * width));
        const out = await this.tasks.run(head, { [input.name]: { datatype: 'FP32', shape: [rows.length, width], data } }, [output], trace);
        const logits = out[output]!.data as Float32Array;
        const classes = logits.length / rows.length;
        return rows.map((_, i) => topK(toScores(logits.subarray(i * classes, (i + 1) * classes), scores), head.labels, k));
      }),
    );
    return results.flat();
  }

  /** Entities per input with character start/end into the original text; one list for a single string. */
  async tokens(
    body: unknown,
    trace: TaskTrace,
    query: ModelQuery = {},
  ): Promise<Array<TokenEntity | GroupedEntity> | Array<Array<TokenEntity | GroupedEntity>>> {
    const r = isHfBody(body) ? fromHfTokens(validate(hfTokensRequest, body), query) : validate(tokensRequest, body);
    const { inputs, single } = readTextInputs(r.inputs, 'inputs', MAX_TEXT_INPUTS);
    const model = await this.text.tokenized(await this.text.get(r.model, tasksFor('textTokens'), trace));
    const labels = model.id2label ?? model.labels;
    if (!labels)
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${r.model}" has no id2label in config.json and no labels in its manifest`);
    const ids = this.text.encode(model, inputs, r.truncate);
    const output = model.manifest.outputs[0]!.name;
    const special = new Set(model.tokenizer.all_special_tokens);
    const unknown = model.tokenizer.unk_token;
    const results: Array<Array<TokenEntity | GroupedEntity>> = [];
    let index = 0;
    for (const { batch, output: tensor } of await this.text.run(model, ids, output, trace)) {
      const classes = tensor.shape.at(-1)!;
      const data = tensor.data as Float32Array;
      for (let row = 0; row < batch.rows; row += 1, index += 1) {
        const text = inputs[index] as string;
        const tokens = batch.ids[row]!.map((id) => model.tokenizer.decode([id], { skip_special_tokens: false }).replace(/^ /, ''));
        const pieces = model.tokenizer.tokenize(text, { add_special_tokens: true });
        // tokenize() gives the vocabulary pieces ("##bon"); decode() would glue them, so prefer it when it lines up.
        const names = pieces.length === tokens.length ? pieces : tokens;
        const spans = tokenSpans(text, names, special, unknown);
        const predictions: TokenPrediction[] = [];
        names.forEach((token, t) => {
          const span = spans[t];
          if (!span || (special.has(token) && token !== unknown)) return;
          const start = (row * batch.seqLength + t) * classes;
          predictions.push({
            index: t,
            token,
            start: span[0],
            end: span[1],
            scores: toScores(data.subarray(start, start + classes), 'softmax'),
            isSubword: token.startsWith('##'),
          });
        });
        results.push(aggregate(predictions, labels, r.aggregation_strategy as AggregationStrategy, r.ignore_labels));
      }
    }
    return single ? results[0]! : results;
  }
}

/** A Hugging Face token-classification body as Lathe's: grouped entities ("simple") unless it says otherwise. */
function fromHfTokens(hf: z.infer<typeof hfTokensRequest>, query: ModelQuery): z.infer<typeof tokensRequest> {
  return tokensRequest.parse({ model: hfModel(hf.model, query), inputs: hf.inputs, ...hf.parameters });
}

/** A head trained over a backbone's features (a fine-tuned model) names its backbone. */
const headParameters = z.object({ backbone: z.string().min(1), scores: z.enum(['softmax', 'sigmoid', 'none']).default('softmax') });

/** As Hugging Face: sigmoid for multi-label models and single-output regressors, softmax otherwise. */
function defaultFunction(model: TextModel): ScoreFunction {
  if (model.problemType === 'multi_label_classification') return 'sigmoid';
  if ((model.id2label?.length ?? 2) === 1) return 'sigmoid';
  return 'softmax';
}

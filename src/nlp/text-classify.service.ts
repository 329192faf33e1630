import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type LabelScore, type ScoreFunction, toScores, topK } from '../tasks/scores.js';
import type { TaskTrace } from '../tasks/task-models.service.js';
import { type AggregationStrategy, aggregate, type GroupedEntity, type TokenEntity, type TokenPrediction } from './token-aggregation.js';
import { tokenSpans } from './token-offsets.js';
import { parseBody, readTextInputs } from './text-input.js';
import { type TextModel, TextModels } from './text-models.service.js';

const MAX_TEXT_INPUTS = 256;

const classifyRequest = z
  .object({
    model: z.string().min(1).max(200),
    inputs: z.unknown(),
    /** How many labels per input, best first (Hugging Face's top_k); default 1. */
    top_k: z.number().int().min(1).max(100_000).optional(),
    function_to_apply: z.enum(['softmax', 'sigmoid', 'none']).optional(),
    truncate: z.boolean().default(false),
  })
  .strict();

const tokensRequest = z
  .object({
    model: z.string().min(1).max(200),
    inputs: z.unknown(),
    aggregation_strategy: z.enum(['none', 'simple', 'first', 'max', 'average']).default('none'),
    ignore_labels: z.array(z.string()).default(['O']),
    truncate: z.boolean().default(false),
  })
  .strict();

/** Hugging Face's text-classification and token-classification tasks over repository models. */
@Injectable()
export class TextClassifyService {
  constructor(private readonly text: TextModels) {}

  /** One `[{label, score}]` per input (best first), or just that list for a single string. */
  async classify(body: unknown, trace: TaskTrace): Promise<LabelScore[] | LabelScore[][]> {
    const r = parseBody(classifyRequest, body);
    const { inputs, single } = readTextInputs(r.inputs, 'inputs', MAX_TEXT_INPUTS);
    const model = await this.text.get(r.model, ['text-classification'], trace);
    const ids = this.text.encode(model, inputs, r.truncate);
    const output = model.manifest.outputs[0]!.name;
    const fn: ScoreFunction = r.function_to_apply ?? defaultFunction(model);
    const labels = model.id2label ?? model.labels;
    const results: LabelScore[][] = [];
    for (const { batch, output: tensor } of await this.text.run(model, ids, output, trace)) {
      const width = tensor.shape.at(-1)!;
      const data = tensor.data as Float32Array;
      for (let row = 0; row < batch.rows; row += 1) {
        results.push(topK(toScores(data.subarray(row * width, (row + 1) * width), fn), labels, r.top_k ?? 1));
      }
    }
    return single ? results[0]! : results;
  }

  /** Entities per input with character start/end into the original text; one list for a single string. */
  async tokens(body: unknown, trace: TaskTrace): Promise<Array<TokenEntity | GroupedEntity> | Array<Array<TokenEntity | GroupedEntity>>> {
    const r = parseBody(tokensRequest, body);
    const { inputs, single } = readTextInputs(r.inputs, 'inputs', MAX_TEXT_INPUTS);
    const model = await this.text.get(r.model, ['token-classification'], trace);
    const labels = model.id2label ?? model.labels;
    if (!labels) throw new AppError(ErrorCode.ModelLoadFailed, `model "${r.model}" has no id2label in config.json and no labels in its manifest`);
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
            index: t, token, start: span[0], end: span[1],
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

/** As Hugging Face: sigmoid for multi-label models and single-output regressors, softmax otherwise. */
function defaultFunction(model: TextModel): ScoreFunction {
  if (model.problemType === 'multi_label_classification') return 'sigmoid';
  if ((model.id2label?.length ?? 2) === 1) return 'sigmoid';
  return 'softmax';
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { checkModelInputs } from '../tasks/input-count.js';
import type { TaskModels, TaskTrace } from '../tasks/task-models.service.js';
import { padIds, truncateIds } from './text-features.js';
import type { TokenizedTextModel } from './text-models.service.js';
import { type EncodedPair, truncatePair } from './tei-text.js';

/**
 * Texts and text pairs through a sequence classifier, as TEI's /predict and /rerank run them: each
 * pair tokenized with the model's template (segment ids 0 and 1), cut to its limit when asked,
 * and run in chunks of at most maxBatchSize rows that the batcher merges with other requests.
 */
export class TeiPairs {
  constructor(private readonly tasks: TaskModels) {}

  /** The logits of each text or pair, in input order. */
  async score(
    model: TokenizedTextModel,
    pairs: ReadonlyArray<readonly [string, string?]>,
    truncate: boolean,
    from: 'left' | 'right',
    trace: TaskTrace,
  ): Promise<Float32Array[]> {
    const size = Math.max(1, model.manifest.maxBatchSize);
    checkModelInputs(model, pairs.length, 'inputs', size);
    const encoded = pairs.map(([a, b], i) => encodePair(model, a, b, truncate, from, i));
    const output = model.params.output ?? model.manifest.outputs[0]!.name;
    const names = model.manifest.inputs.map((t) => t.name);
    const chunks: EncodedPair[][] = [];
    for (let i = 0; i < encoded.length; i += size) chunks.push(encoded.slice(i, i + size));
    const results = await Promise.all(
      chunks.map(async (chunk) => {
        const ids = chunk.map((p) => p.ids);
        const batch = padIds(
          ids,
          names,
          model.tokenizer.pad_token_id ?? 0,
          model.maxLength,
          model.name,
          chunk.map((p) => p.typeIds),
        );
        const logits = (await this.tasks.run(model, batch.inputs, [output], trace))[output]!.data as Float32Array;
        const classes = logits.length / chunk.length;
        return chunk.map((_, r) => logits.slice(r * classes, (r + 1) * classes));
      }),
    );
    return results.flat();
  }
}

function encodePair(
  model: TokenizedTextModel,
  a: string,
  b: string | undefined,
  truncate: boolean,
  from: 'left' | 'right',
  index: number,
): EncodedPair {
  const { tokenizer, maxLength } = model;
  const encoded = tokenizer(a, { text_pair: b ?? null, return_tensor: false, return_token_type_ids: true }) as unknown as {
    input_ids: number[];
    token_type_ids?: number[];
  };
  const pair: EncodedPair = { ids: encoded.input_ids, typeIds: encoded.token_type_ids ?? encoded.input_ids.map(() => 0) };
  if (pair.ids.length <= maxLength) return pair;
  if (!truncate) {
    throw new AppError(
      ErrorCode.InputTooLong,
      `input ${index} has ${pair.ids.length} tokens; model "${model.name}" takes at most ${maxLength} (send "truncate": true to cut it)`,
    );
  }
  const specials = tokenizer.all_special_ids;
  if (b === undefined) {
    const ids = truncateIds(pair.ids, maxLength, from, specials.includes(pair.ids[0]!), specials.includes(pair.ids.at(-1)!));
    return { ids, typeIds: ids.map(() => 0) };
  }
  const cut = truncatePair(
    pair,
    tokenizer.encode(a, { add_special_tokens: false }),
    tokenizer.encode(b, { add_special_tokens: false }),
    maxLength,
    from,
  );
  if (!cut) throw new AppError(ErrorCode.InputTooLong, `input ${index} cannot be cut to ${maxLength} tokens for model "${model.name}"`);
  return cut;
}

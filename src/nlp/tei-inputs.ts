/**
 * TEI's inputs read into texts, pairs and token lists (each list bounded by
 * TEI_MAX_CLIENT_BATCH), and a tokenizer's tokens in TEI's /tokenize shape.
 */
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { checkInputCount } from '../tasks/input-count.js';
import { byteSpan } from './tei-text.js';
import { TEI_MAX_CLIENT_BATCH } from './tei-schemas.js';
import { readTextInputs } from './text-input.js';
import type { TokenizedTextModel } from './text-models.service.js';
import { tokenSpans } from './token-offsets.js';

export const BATCH_LIMIT = 'the TEI routes take at most this many inputs per request';

/** One TEI token: its id, its text, whether the template added it, and its UTF-8 byte span. */
export interface TeiToken {
  id: number;
  text: string;
  special: boolean;
  start: number | null;
  stop: number | null;
}

/** TEI's Input: a text, token ids, or a list of them; a list longer than TEI_MAX_CLIENT_BATCH is 413 TOO_MANY_INPUTS. */
export function readTeiInputs(inputs: unknown, tokens: boolean): { inputs: Array<string | number[]>; single: boolean } {
  if (Array.isArray(inputs) && !inputs.every((x) => typeof x === 'number')) {
    checkInputCount(inputs.length, TEI_MAX_CLIENT_BATCH, 'inputs', BATCH_LIMIT);
  }
  return readTextInputs(inputs, 'inputs', TEI_MAX_CLIENT_BATCH, tokens);
}

/** TEI's PredictInput: a string, a [text, text_pair] pair, or a batch of [text] / [text, text_pair] lists. */
export function readPredictInputs(inputs: unknown): { pairs: Array<[string, string?]>; single: boolean } {
  const fail = (message: string): never => {
    throw new AppError(ErrorCode.ValidationFailed, message, [{ field: 'inputs', problems: [message] }]);
  };
  const text = (value: unknown, where: string): string => readTextInputs(value, where, 1).inputs[0] as string;
  if (typeof inputs === 'string') return { pairs: [[text(inputs, 'inputs')]], single: true };
  if (!Array.isArray(inputs) || inputs.length === 0) return fail('inputs must be a string, a pair of strings or a non-empty batch');
  if (inputs.every((x) => typeof x === 'string')) {
    if (inputs.length !== 2) return fail('a list of strings in inputs must be a pair: [text, text_pair]');
    return { pairs: [[text(inputs[0], 'inputs[0]'), text(inputs[1], 'inputs[1]')]], single: true };
  }
  checkInputCount(inputs.length, TEI_MAX_CLIENT_BATCH, 'inputs', BATCH_LIMIT);
  const pairs = inputs.map((item: unknown, i): [string, string?] => {
    if (!Array.isArray(item) || item.length < 1 || item.length > 2) return fail(`inputs[${i}] must be [text] or [text, text_pair]`);
    return item.length === 1 ? [text(item[0], `inputs[${i}][0]`)] : [text(item[0], `inputs[${i}][0]`), text(item[1], `inputs[${i}][1]`)];
  });
  return { pairs, single: false };
}

export function tokensOf(model: TokenizedTextModel, text: string, addSpecial: boolean): TeiToken[] {
  const { tokenizer } = model;
  const ids = tokenizer.encode(text, { add_special_tokens: addSpecial });
  const special = new Set(tokenizer.all_special_tokens);
  const unknown = tokenizer.unk_token;
  const pieces = tokenizer.tokenize(text, { add_special_tokens: addSpecial });
  const names =
    pieces.length === ids.length ? pieces : ids.map((id) => tokenizer.decode([id], { skip_special_tokens: false }).replace(/^ /, ''));
  const spans = tokenSpans(text, names, special, unknown);
  return ids.map((id, t) => {
    const name = names[t]!;
    const span = spans[t];
    if ((special.has(name) && name !== unknown) || !span) return { id, text: name, special: true, start: null, stop: null };
    return { id, special: false, ...byteSpan(text, span) };
  });
}

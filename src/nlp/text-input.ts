import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { LONE_SURROGATE } from '../common/http/validate-body.js';

/** Longest text accepted in one input, in characters, before tokenizing (a guard, not the model's limit). */
export const MAX_TEXT_CHARS = 1_000_000;

/**
 * The texts (or token arrays, when `tokens` allows them) of a request's input field: one string,
 * a list of strings, a token array or a list of them. Each text must be non-empty and well-formed
 * UTF-16: JSON can carry lone surrogates such as "\ud800", which no tokenizer can read.
 */
export function readTextInputs(
  input: unknown,
  field: string,
  maxInputs: number,
  tokens = false,
): { inputs: Array<string | number[]>; single: boolean } {
  const fail = (message: string): never => {
    throw new AppError(ErrorCode.ValidationFailed, message, [{ field, problems: [message] }]);
  };
  if (typeof input === 'string') return { inputs: [checkText(input, field, fail)], single: true };
  if (!Array.isArray(input)) return fail(`${field} must be a string or a list of ${tokens ? 'strings or token arrays' : 'strings'}`);
  if (input.length === 0) return fail(`${field} is an empty list`);
  if (tokens && input.every((x) => typeof x === 'number')) return { inputs: [checkTokens(input, field, fail)], single: true };
  if (input.length > maxInputs) return fail(`${field} has ${input.length} inputs; at most ${maxInputs} are taken in one request`);
  const inputs = input.map((item, i) => {
    if (typeof item === 'string') return checkText(item, `${field}[${i}]`, fail);
    if (tokens && Array.isArray(item)) return checkTokens(item, `${field}[${i}]`, fail);
    return fail(`${field}[${i}] must be a ${tokens ? 'string or a token array' : 'string'}`);
  });
  return { inputs, single: false };
}

function checkText(text: string, where: string, fail: (message: string) => never): string {
  if (text.length === 0) fail(`${where} is an empty string`);
  if (text.length > MAX_TEXT_CHARS) fail(`${where} has ${text.length} characters; at most ${MAX_TEXT_CHARS}`);
  const bad = LONE_SURROGATE.exec(text);
  if (bad) fail(`${where} has an unpaired UTF-16 surrogate (\\u${bad[0].charCodeAt(0).toString(16)}) at index ${bad.index}`);
  return text;
}

function checkTokens(tokens: unknown[], where: string, fail: (message: string) => never): number[] {
  if (!tokens.every((t) => Number.isInteger(t) && (t as number) >= 0)) fail(`${where} must hold non-negative integer token ids`);
  return tokens as number[];
}

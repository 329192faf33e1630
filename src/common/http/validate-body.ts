import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import { ErrorCode } from '../errors/error-code.js';

/** An unpaired UTF-16 surrogate: text that came from JSON but is not Unicode. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A string a tokenizer can read: JSON can carry lone UTF-16 surrogates such as "\ud800". */
export const wellFormedText = z.string().refine((s) => !LONE_SURROGATE.test(s), { error: 'has an unpaired UTF-16 surrogate' });

/**
 * Parses a body with a zod schema; every problem becomes a 400 VALIDATION_FAILED detail naming its
 * field ("messages.0.role"), the shape the project's other routes answer with.
 */
export function validate<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === undefined || body === null) throw new AppError(ErrorCode.EmptyBody, 'a JSON body is required');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', problems: [i.message] }));
  throw new AppError(
    ErrorCode.ValidationFailed,
    `invalid request: ${details.map((d) => `${d.field}: ${d.problems[0]}`).join('; ')}`,
    details,
  );
}

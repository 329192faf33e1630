import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type IdPrefix, idSchema } from './ids.js';

/** OpenAI's cursor page: the client asks for the next page with `after` = the last id. */
export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/** `rows` fetched with limit + 1, so one extra row says there is more. */
export function toPage<R, T extends { id: string }>(rows: readonly R[], limit: number, map: (row: R) => T): ListPage<T> {
  const data = rows.slice(0, limit).map(map);
  return { object: 'list', data, has_more: rows.length > limit, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** Validates a zod schema, answering 400 with one entry per bad field. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ field: i.path.join('.') || what, problems: [i.message] }));
  throw new AppError(
    ErrorCode.ValidationFailed,
    `invalid ${what}: ${details.map((d) => `${d.field}: ${d.problems[0]}`).join('; ')}`,
    details,
  );
}

/** Postgres text and jsonb cannot hold U+0000: a string stored or compared in SQL must not contain it (else 500). */
export const NUL_MESSAGE = 'must not contain U+0000 (NUL)';
export const sqlText = () => z.string().refine((v) => !v.includes('\u0000'), NUL_MESSAGE);

/** `after` is the id of the last object of the previous page, so it has that kind's form. */
export const cursorQuery = (after: IdPrefix, defaultLimit: number, maxLimit: number) =>
  z.object({
    after: idSchema(after).optional(),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(defaultLimit),
  });

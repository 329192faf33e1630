import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export type IdPrefix = 'file' | 'ftjob' | 'ftevent' | 'ftckpt' | 'artifact';

const ID_LENGTH = 24;
const ID_TAIL = new RegExp(`^[0-9a-f]{${ID_LENGTH}}$`);

/** OpenAI-style ids: a prefix and 24 random hex characters, e.g. `ftjob-3f9c…`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}-${randomBytes(ID_LENGTH / 2).toString('hex')}`;
}

/**
 * Whether `value` has the form newId gives `prefix`. Anything else names a resource that cannot
 * exist and is answered without a query: a NUL or a stray byte never reaches Postgres, whose text
 * cannot hold U+0000 (it would answer 500).
 */
export function isId(prefix: IdPrefix, value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(`${prefix}-`) && ID_TAIL.test(value.slice(prefix.length + 1));
}

/** A query or body field holding an id of this kind (400 VALIDATION_FAILED otherwise). */
export const idSchema = (prefix: IdPrefix) =>
  z.string().refine((v) => isId(prefix, v), `must be an id of the form ${prefix}-<24 hex digits>`);

/** Unix seconds, as OpenAI's objects give times. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

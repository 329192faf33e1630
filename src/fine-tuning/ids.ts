import { randomBytes } from 'node:crypto';

export type IdPrefix = 'file' | 'ftjob' | 'ftevent' | 'ftckpt' | 'artifact';

/** OpenAI-style ids: a prefix and 24 random hex characters, e.g. `ftjob-3f9c…`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

/** Unix seconds, as OpenAI's objects give times. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

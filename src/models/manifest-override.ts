import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/**
 * The manifest fields a repository `load` may override (Triton's `parameters.config`): how the
 * model is served, never what it is or where its files are (task, source, inputs, outputs stay the
 * manifest's, so a load request cannot point the server at other files).
 */
export const OVERRIDABLE_FIELDS = [
  'description',
  'labels',
  'maxBatchSize',
  'dynamicBatching',
  'instances',
  'intraOpThreads',
  'intraOpSpinning',
  'queue',
  'timeoutMs',
  'warmup',
] as const;

export type ManifestOverride = Partial<Record<(typeof OVERRIDABLE_FIELDS)[number], unknown>>;

/** Largest `parameters.config` accepted, in characters of JSON. */
export const MAX_OVERRIDE_CHARS = 65_536;

const fail = (message: string): never => {
  throw new AppError(ErrorCode.ValidationFailed, `parameters.config: ${message}`, [{ field: 'parameters.config', problems: [message] }]);
};

/**
 * `parameters.config` of a load request: a JSON object as a string (Triton's form) or as an object,
 * holding only OVERRIDABLE_FIELDS. The values are checked with the whole manifest when it loads.
 */
export function parseManifestOverride(config: unknown): ManifestOverride {
  let value = config;
  if (typeof config === 'string') {
    if (config.length > MAX_OVERRIDE_CHARS) fail(`is ${config.length} characters; the limit is ${MAX_OVERRIDE_CHARS}`);
    try {
      value = JSON.parse(config) as unknown;
    } catch {
      fail('is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('must be a JSON object (a manifest override)');
  const keys = Object.keys(value);
  const refused = keys.filter((k) => !(OVERRIDABLE_FIELDS as readonly string[]).includes(k));
  if (refused.length > 0) fail(`${refused.map((k) => `"${k}"`).join(', ')} cannot be overridden (allowed: ${OVERRIDABLE_FIELDS.join(', ')})`);
  if (keys.length === 0) fail('is empty');
  return value as ManifestOverride;
}

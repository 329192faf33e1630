import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../common/errors/app-error.js';
import { parseManifestOverride } from './manifest-override.js';

const refused = (config: unknown, message: string) =>
  assert.throws(
    () => parseManifestOverride(config),
    (err: unknown) => err instanceof AppError && err.code === 'VALIDATION_FAILED' && err.message === `parameters.config: ${message}`,
  );

describe('parseManifestOverride', () => {
  it("takes Triton's JSON string and an object alike", () => {
    assert.deepEqual(parseManifestOverride('{"instances": 2, "timeoutMs": 500}'), { instances: 2, timeoutMs: 500 });
    assert.deepEqual(parseManifestOverride({ maxBatchSize: 8 }), { maxBatchSize: 8 });
  });

  it('refuses what is not a JSON object of overridable fields', () => {
    refused('{"instances":', 'is not valid JSON');
    refused('[1]', 'must be a JSON object (a manifest override)');
    refused(7, 'must be a JSON object (a manifest override)');
    refused({}, 'is empty');
    refused(
      '{"source": {"file": "/etc/passwd"}, "__proto__": {}}',
      '"source", "__proto__" cannot be overridden (allowed: description, labels, maxBatchSize, dynamicBatching, instances, intraOpThreads, intraOpSpinning, queue, timeoutMs, warmup)',
    );
    refused(`{"description": "${'x'.repeat(70_000)}"}`, 'is 70019 characters; the limit is 65536');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { FilesRepository } from './files.repository.js';
import { FilesService, MAX_DATASET_BYTES } from './files.service.js';

describe('FilesService.upload', () => {
  const refusingRepository = { insert: () => assert.fail('nothing is stored') } as unknown as FilesRepository;

  it('a dataset larger than one string can hold: 413 before it is parsed or stored', async () => {
    // allocUnsafe leaves the pages untouched: refused by its size, the buffer is never read.
    const bytes = Buffer.allocUnsafe(MAX_DATASET_BYTES + 1);
    await assert.rejects(
      new FilesService(refusingRepository).upload({ filename: 'huge.jsonl', bytes, fields: { purpose: 'fine-tune' } }),
      (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.deepEqual(
          [err.code, err.message],
          [ErrorCode.PayloadTooLarge, `huge.jsonl is ${MAX_DATASET_BYTES + 1} bytes; a dataset holds at most ${MAX_DATASET_BYTES} bytes`],
        );
        return true;
      },
    );
  });
});

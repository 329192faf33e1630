import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';

describe('AppError.about', () => {
  it('names the input and keeps the code, details and headers (a batch item refused with 429 still says when to retry)', () => {
    const overloaded = new AppError(
      ErrorCode.Overloaded,
      'audio decoding: 4 running and 4 waiting; retry later',
      { running: 4 },
      { 'retry-after': '1' },
    );
    const named = overloaded.about('files[3]');
    assert.equal(named.code, ErrorCode.Overloaded);
    assert.equal(named.status, 429);
    assert.equal(named.message, 'files[3]: audio decoding: 4 running and 4 waiting; retry later');
    assert.deepEqual(named.details, { running: 4 });
    assert.deepEqual(named.headers, { 'retry-after': '1' });
  });
});

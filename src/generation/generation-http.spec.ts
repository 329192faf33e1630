import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { errorEvent } from './generation-http.js';

describe('errorEvent (an error after a stream has started)', () => {
  it("is the error body's object, with OpenAI's type and param beside the code", () => {
    assert.deepEqual(errorEvent(new AppError(ErrorCode.Unavailable, 'model "m" is unloading')), {
      error: { code: 'UNAVAILABLE', message: 'model "m" is unloading', type: 'server_error', param: null },
    });
    assert.deepEqual(errorEvent(new AppError(ErrorCode.ValidationFailed, 'bad', [{ field: 'stop', message: 'too many' }])), {
      error: {
        code: 'VALIDATION_FAILED',
        message: 'bad',
        type: 'invalid_request_error',
        param: 'stop',
        details: [{ field: 'stop', message: 'too many' }],
      },
    });
  });
});

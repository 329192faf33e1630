import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorObject } from './all-exceptions.filter.js';
import { ErrorCode } from './error-code.js';

describe('errorObject: OpenAI type and param beside Lathe code, message and details', () => {
  const cases: Array<[string, ErrorCode, unknown, { type: string; param: string | null }]> = [
    [
      'a validation failure names its first field',
      ErrorCode.ValidationFailed,
      [
        { field: 'limit', problems: ['x'] },
        { field: 'after', problems: ['y'] },
      ],
      { type: 'invalid_request_error', param: 'limit' },
    ],
    [
      'a body-level problem has no param',
      ErrorCode.ValidationFailed,
      [{ field: '(body)', problems: ['x'] }],
      { type: 'invalid_request_error', param: null },
    ],
    ['details.param names it', ErrorCode.NotFound, { param: 'training_file' }, { type: 'invalid_request_error', param: 'training_file' }],
    ['401', ErrorCode.InvalidApiKey, undefined, { type: 'authentication_error', param: null }],
    ['403', ErrorCode.InsufficientScope, { required: 'train' }, { type: 'permission_error', param: null }],
    ['429', ErrorCode.Overloaded, undefined, { type: 'requests', param: null }],
    ['503', ErrorCode.Unavailable, undefined, { type: 'server_error', param: null }],
    ['500', ErrorCode.Internal, undefined, { type: 'server_error', param: null }],
  ];
  for (const [what, code, details, expected] of cases) {
    it(what, () => {
      const body = errorObject(code, 'm', details);
      assert.deepEqual(body, { code, message: 'm', ...expected, ...(details === undefined ? {} : { details }) });
    });
  }
});

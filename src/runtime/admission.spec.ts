import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { Admission } from './admission.js';

describe('Admission', () => {
  it('accepts up to maxQueueSize requests in progress, then answers 429 with a Retry-After, and accepts again once one is answered', () => {
    const a = new Admission('m', 2);
    assert.equal(a.admit(1), undefined);
    assert.equal(a.admit(1), undefined);
    const refused = a.admit(1);
    assert.ok(refused instanceof AppError);
    assert.equal(refused.code, ErrorCode.Overloaded);
    assert.equal(refused.message, 'model "m" has 2 requests in progress (limit 2); retry later');
    assert.deepEqual(refused.headers, { 'retry-after': '1' });
    assert.equal(a.inProgress, 2);
    a.release();
    assert.equal(a.admit(1), undefined);
  });

  it('sizes Retry-After by the work ahead: requests × average batch time over the instances, at least 1 s', () => {
    const a = new Admission('m', 4);
    for (let i = 0; i < 4; i += 1) a.admit(2);
    // The average moves a fifth of the way to each batch time: after many 2 s batches it is ~2 s.
    for (let i = 0; i < 60; i += 1) a.ran(2000);
    // 4 requests × ~2000 ms / 2 instances = ~4 s.
    assert.deepEqual(a.admit(2)?.headers, { 'retry-after': '4' });
    assert.deepEqual(a.admit(1)?.headers, { 'retry-after': '8' });
  });

  it('refuses everything with 503 once closed (the model is unloading)', () => {
    const a = new Admission('m', 2);
    a.close();
    const refused = a.admit(1);
    assert.equal(refused?.code, ErrorCode.Unavailable);
    assert.equal(refused?.message, 'model "m" is unloading');
    assert.equal(a.inProgress, 0);
  });
});

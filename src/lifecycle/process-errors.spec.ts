import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handleProcessError } from './process-errors.js';

function recorder() {
  const lines: string[] = [];
  const exits: number[] = [];
  const logger = {
    error: (message: string, stack?: string) => lines.push(`error ${message} | ${stack?.split('\n')[0]}`),
    fatal: (message: string, stack?: string) => lines.push(`fatal ${message} | ${stack?.split('\n')[0]}`),
  };
  return { lines, exits, logger, exit: (code: number) => void exits.push(code) };
}

describe('handleProcessError', () => {
  it('logs a database fault with its stack and serves on', () => {
    const r = recorder();
    const err = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    assert.equal(handleProcessError(err, 'uncaughtException', r.logger, r.exit), true);
    assert.deepEqual(r.lines, [
      'error uncaughtException: a database fault outside any request; serving on | Error: terminating connection due to administrator command',
    ]);
    assert.deepEqual(r.exits, []);
  });

  it('serves on after a rejected heartbeat query that timed out', () => {
    const r = recorder();
    assert.equal(handleProcessError(new Error('Query read timeout'), 'unhandledRejection', r.logger, r.exit), true);
    assert.deepEqual(r.exits, []);
  });

  it('exits 1 on anything else, logging it first', () => {
    const r = recorder();
    assert.equal(handleProcessError(new TypeError('x is not a function'), 'uncaughtException', r.logger, r.exit), false);
    assert.deepEqual(r.lines, ['fatal uncaughtException: exiting | TypeError: x is not a function']);
    assert.deepEqual(r.exits, [1]);
  });

  it('exits 1 on a rejection with a value that is not an Error', () => {
    const r = recorder();
    handleProcessError('nope', 'unhandledRejection', r.logger, r.exit);
    assert.deepEqual(r.lines, ['fatal unhandledRejection: exiting | nope']);
    assert.deepEqual(r.exits, [1]);
  });
});

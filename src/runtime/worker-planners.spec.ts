import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerInit } from './worker-planners.js';

describe('workerInit: intra-op spinning', () => {
  const generate = { kind: 'session-generate', modelPath: '/m.onnx', generate: { module: 'file:///g.js', config: {} } } as const;
  const plain = { kind: 'session', modelPath: '/m.onnx' } as const;
  const spinningOf = (init: ReturnType<typeof workerInit>) => ('session' in init ? init.session.spinning : 'no session');

  it("leaves ONNX Runtime's default to plain sessions and turns it off for a decode loop", () => {
    assert.equal(spinningOf(workerInit(plain, ['cpu'], 2)), undefined);
    assert.equal(spinningOf(workerInit(generate, ['cpu'], 2)), false);
  });

  it("follows the manifest's intraOpSpinning where it is set", () => {
    assert.equal(spinningOf(workerInit(generate, ['cpu'], 2, true)), true);
    assert.equal(spinningOf(workerInit(plain, ['cpu'], 2, false)), false);
    assert.deepEqual(workerInit(plain, ['cpu'], 2, true), {
      kind: 'session',
      session: { modelPath: '/m.onnx', providers: ['cpu'], intraOpThreads: 2, spinning: true },
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SILERO_PATH } from '../../test/support/models.js';
import { SessionWorker } from './session-worker.js';

describe('InlineThread: a session host on the main thread behind a worker’s face', () => {
  it('answers like a worker thread and closes', async () => {
    const inline = new SessionWorker(
      { kind: 'session', session: { modelPath: SILERO_PATH, providers: ['cpu'], intraOpThreads: 1 } },
      { inline: true },
    );
    const ready = await inline.ready;
    assert.equal(ready.provider, 'cpu');
    assert.deepEqual(
      ready.inputs.map((i) => i.name),
      ['input', 'state', 'sr'],
    );
    const done = await inline.send('run', {
      inputs: {
        input: [{ datatype: 'FP32', shape: [1, 576], data: new Float32Array(576) }],
        state: [{ datatype: 'FP32', shape: [2, 1, 128], data: new Float32Array(256) }],
        sr: [{ datatype: 'INT64', shape: [], data: BigInt64Array.of(16000n) }],
      },
      outputs: ['output'],
      axes: { input: 0, state: 1, sr: null, output: 0 },
    });
    assert.deepEqual(done.answer.outputs.output!.shape, [1, 1]);
    // The time it held this thread, its wait for the event loop left out: less than the whole call.
    assert.ok(done.timing.blockedNs! > 0 && done.timing.blockedNs! <= Number(process.hrtime.bigint() - done.timing.startedNs));
    await inline.close();
  });

  it('reports a model that does not load through `ready`, and terminates at once', async () => {
    const inline = new SessionWorker(
      { kind: 'session', session: { modelPath: '/nonexistent/model.onnx', providers: ['cpu'], intraOpThreads: 1 } },
      { inline: true },
    );
    await assert.rejects(inline.ready, /cpu: /);
    assert.equal(await inline.terminate(), 0);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { quietRunnerEvents, random, SILERO_PATH } from '../../test/support/models.js';
import { assertAnswersAlone, SILERO_AXES, sileroRequest, sileroRunnerOptions } from '../../test/support/silero-runner.js';
import { type InlinePolicy, ModelRunner, type RunnerEvents } from './model-runner.js';
import type { NamedTensors } from '../contracts/tensor.js';

/** A runner whose events are counted: requests run on the main thread, and what it said about inline execution. */
async function startRunner(inline: InlinePolicy) {
  const seen = { ranInline: 0, inline: [] as Array<[boolean, string]> };
  const events: RunnerEvents = {
    ...quietRunnerEvents(),
    inline: (serving, reason) => seen.inline.push([serving, reason]),
    ranInline: () => (seen.ranInline += 1),
  };
  const runner = new ModelRunner(
    sileroRunnerOptions({ batching: { maxBatchSize: 8, axes: SILERO_AXES, preferredBatchSizes: [], maxQueueDelayUs: 0 }, inline }),
    events,
  );
  await runner.start();
  return { runner, seen };
}

describe("ModelRunner inline execution (a manifest's `inline`)", () => {
  let session: ort.InferenceSession;
  before(async () => {
    session = await ort.InferenceSession.create(SILERO_PATH);
  });
  after(() => session.release());

  const checkAlone = (inputs: NamedTensors, outputs: NamedTensors) => assertAnswersAlone(session, inputs, outputs);

  it('runs a lone request on the main thread and anything with company, or over maxRows or maxElements, on the workers; the answers are the same', async () => {
    // A row of Silero is 576 + 2 x 128 values, plus the sample rate: two rows are 1,665 values, three 2,497.
    const { runner, seen } = await startRunner({ budgetMs: 5, maxRows: 3, maxElements: 1700 });
    try {
      assert.equal(runner.inlineServing, true);
      assert.deepEqual(seen.inline, [[true, 'lone requests of at most 3 row(s) and 1700 input values, 5 ms a call']]);
      const rand = random(11);
      const infer = (r: NamedTensors) => runner.infer(r, ['output', 'stateN'], r.input!.shape[0]!);

      // One after another: each is the only request in progress.
      for (const rows of [1, 2, 1]) {
        const request = sileroRequest(rows, rand);
        await checkAlone(structuredClone(request), (await infer(request)).outputs);
      }
      assert.equal(seen.ranInline, 3);

      // Three rows are within maxRows but not maxElements, four are more than maxRows: workers run them.
      for (const rows of [3, 4]) {
        const big = sileroRequest(rows, rand);
        await checkAlone(structuredClone(big), (await infer(big)).outputs);
      }
      // Eight at once: none is alone, so the workers batch them.
      const together = Array.from({ length: 8 }, () => sileroRequest(1, rand));
      const copies = together.map((r) => structuredClone(r));
      const results = await Promise.all(together.map(infer));
      for (const [i, result] of results.entries()) await checkAlone(copies[i]!, result.outputs);
      assert.equal(seen.ranInline, 3);
      // Every request was counted, inline or not: 3 + 2 + 8.
      assert.equal(runner.stats.snapshot().inference_stats.success.count, 13);
    } finally {
      await runner.stop();
    }
  });

  it('ends inline execution at the third call over the budget (after the warm-up call), and says why', async () => {
    const { runner, seen } = await startRunner({ budgetMs: 0.000_001, maxRows: 1, maxElements: 4096 });
    try {
      const rand = random(12);
      const infer = (r: NamedTensors) => runner.infer(r, ['output', 'stateN'], 1);
      // The first call warms the main thread's session up and is not judged; then no model runs in a nanosecond.
      for (let i = 0; i < 3; i += 1) {
        await infer(sileroRequest(1, rand));
        assert.equal(runner.inlineServing, true, `after call ${i + 1}`);
      }
      const fourth = sileroRequest(1, rand);
      await checkAlone(structuredClone(fourth), (await infer(fourth)).outputs);
      assert.equal(runner.inlineServing, false);
      assert.equal(seen.inline.length, 2);
      assert.equal(seen.inline[1]![0], false);
      assert.match(
        seen.inline[1]![1],
        /^3 calls held it longer than the budget of 0\.000001 ms \(the last \d+\.\d{3} ms\); every request runs on the workers now$/,
      );
      // From now on the workers answer, correctly.
      const fifth = sileroRequest(1, rand);
      await checkAlone(structuredClone(fifth), (await infer(fifth)).outputs);
      assert.equal(seen.ranInline, 4);
    } finally {
      await runner.stop();
    }
  });
});

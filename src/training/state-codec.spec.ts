import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserializeState, serializeState } from './state-codec.js';
import type { TrainerState } from './types.js';

const BASE: TrainerState = {
  version: 1,
  fingerprint: 'abc',
  epoch: 2,
  step: 17,
  rng: Uint32Array.of(1, 0xffffffff, 3, 4),
  params: Float32Array.of(0.1, -2.5, Number.MIN_VALUE, 3e38),
  moments: [],
  cursor: 0,
  epochLossSum: 0.1 + 0.2,
  epochCorrect: 0,
  epochsWithoutImprovement: 1,
};

describe('serializeState', () => {
  const cases: Array<[string, TrainerState]> = [
    ['sgd between epochs', BASE],
    [
      'adam mid-epoch with a best',
      {
        ...BASE,
        moments: [Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8)],
        order: Int32Array.of(3, 0, 2, 1, 4),
        cursor: 3,
        epochCorrect: 2,
        best: { params: Float32Array.of(9, 8, 7, 6), loss: 0.123456789012345, epoch: 1 },
      },
    ],
    ['finished', { ...BASE, moments: [Float32Array.of(1, 1, 1, 1)], finished: 'early-stopping' }],
  ];
  for (const [label, state] of cases) {
    it(`round-trips ${label} exactly`, () => {
      const bytes = serializeState(state);
      // Decoding from an odd offset inside a larger buffer, as from a database row.
      const padded = new Uint8Array(bytes.length + 3);
      padded.set(bytes, 3);
      const back = deserializeState(padded.subarray(3));
      assert.deepEqual({ ...back, finished: back.finished }, { ...state, order: state.order, best: state.best, finished: state.finished });
      assert.deepEqual(serializeState(back), bytes);
    });
  }

  it("decodes from a Node Buffer in Node's shared pool (whose slice() is a view, not a copy)", () => {
    const bytes = serializeState(cases[1]![1]);
    const pooled = Buffer.allocUnsafe(bytes.length);
    pooled.set(bytes);
    assert.ok(pooled.buffer.byteLength > bytes.length, 'the buffer is a view into the pool');
    assert.deepEqual(serializeState(deserializeState(pooled)), bytes);
  });

  it('rejects bytes that are not a trainer state, or are cut short', () => {
    assert.throws(() => deserializeState(Uint8Array.of(1, 2, 3)), /not a Lathe trainer state/);
    const bytes = serializeState(cases[1]![1]);
    assert.throws(() => deserializeState(bytes.subarray(0, bytes.length - 8)), /truncated/);
  });
});

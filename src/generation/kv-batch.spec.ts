import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CacheBlock, type CacheLayout, KvBatch, type LayerCache, pastKeyName, pastValueName, STEP_COLUMN_SLACK } from './kv-batch.js';

const layout: CacheLayout = { layers: 2, kvHeads: 2, headDim: 3, datatype: 'FP32' };

/**
 * A block whose element at (layer, part, row, head, column, d) encodes those coordinates, so a copy
 * that lands anywhere else is seen. Padding columns (before each row's tokens) hold -1.
 */
function block(tag: number, lengths: number[], columns = Math.max(...lengths)): CacheBlock {
  const rows = lengths.length;
  const make = (layer: number, part: number) => {
    const data = new Float32Array(rows * layout.kvHeads * columns * layout.headDim).fill(-1);
    for (let r = 0; r < rows; r++)
      for (let h = 0; h < layout.kvHeads; h++)
        for (let c = columns - lengths[r]; c < columns; c++)
          for (let d = 0; d < layout.headDim; d++) {
            const token = c - (columns - lengths[r]);
            data[((r * layout.kvHeads + h) * columns + c) * layout.headDim + d] = code(tag, layer, part, r, h, token, d);
          }
    return data;
  };
  return { layers: [0, 1].map((layer) => ({ key: make(layer, 0), value: make(layer, 1) })), columns, lengths };
}

const code = (tag: number, layer: number, part: number, row: number, head: number, token: number, d: number) =>
  tag * 1e6 + layer * 1e5 + part * 1e4 + row * 1e3 + head * 100 + token * 10 + d;

/** Row r of the batch as [layer][part][head][token][d], padding dropped, checking padding and free columns are zero. */
function rowOf(batch: KvBatch, r: number): number[][][][][] {
  const { past } = batch.stepInputs();
  const width = batch.columns;
  const room = batch.capacity;
  const length = batch.lengths[r];
  return [0, 1].map((layer) =>
    [pastKeyName(layer), pastValueName(layer)].map((name) => {
      const data = past[name].data as Float32Array;
      assert.deepEqual(past[name].shape, [batch.rows, 2, room, 3]);
      return Array.from({ length: 2 }, (_, h) => {
        const base = (r * 2 + h) * room * 3;
        for (let i = 0; i < (width - length) * 3; i++) assert.equal(data[base + i], 0, 'padding is zero');
        for (let i = width * 3; i < room * 3; i++) assert.equal(data[base + i], 0, 'free columns are zero');
        return Array.from({ length }, (_, t) =>
          Array.from(data.subarray(base + (width - length + t) * 3, base + (width - length + t + 1) * 3)),
        );
      });
    }),
  );
}

function expected(tag: number, sourceRow: number, length: number): number[][][][][] {
  return [0, 1].map((layer) =>
    [0, 1].map((part) =>
      Array.from({ length: 2 }, (_, h) =>
        Array.from({ length }, (_, t) => Array.from({ length: 3 }, (_, d) => code(tag, layer, part, sourceRow, h, t, d))),
      ),
    ),
  );
}

describe('KvBatch', () => {
  it('left-pads joining rows to the longest one and builds the step mask and positions from their lengths', () => {
    const batch = new KvBatch(layout);
    batch.rebuild([], [{ block: block(1, [2, 4]), rows: [0, 1] }]);
    assert.deepEqual([batch.rows, batch.columns, batch.lengths], [2, 4, [2, 4]]);
    assert.deepEqual(rowOf(batch, 0), expected(1, 0, 2));
    assert.deepEqual(rowOf(batch, 1), expected(1, 1, 4));
    const { attentionMask, positionIds } = batch.stepInputs();
    assert.deepEqual(attentionMask.shape, [2, 5]);
    assert.deepEqual(Array.from(attentionMask.data as BigInt64Array), [0n, 0n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n]);
    assert.deepEqual(Array.from(positionIds.data as BigInt64Array), [2n, 4n]);
    assert.equal(batch.bytes, 2 * 4 * (2 * 2 * 2 * 3 * 4));
  });

  it('keeps, reorders and drops rows, joins rows from another block, and trims columns no row uses', () => {
    const batch = new KvBatch(layout);
    batch.rebuild([], [{ block: block(1, [2, 6, 3]), rows: [0, 1, 2] }]);
    assert.equal(batch.columns, 6);
    // The 6-token row leaves; a block of two rows joins, of which only its second (5 tokens) stays.
    batch.rebuild([2, 0], [{ block: block(2, [1, 5], 7), rows: [1] }]);
    assert.deepEqual([batch.rows, batch.columns, batch.lengths], [3, 5, [3, 2, 5]]);
    assert.deepEqual(rowOf(batch, 0), expected(1, 2, 3));
    assert.deepEqual(rowOf(batch, 1), expected(1, 0, 2));
    assert.deepEqual(rowOf(batch, 2), expected(2, 1, 5));
    batch.rebuild([]);
    assert.deepEqual([batch.rows, batch.columns, batch.bytes], [0, 0, 0]);
  });

  it('takes a step’s present caches as the next past without copying, one column wider', () => {
    const batch = new KvBatch(layout);
    batch.rebuild([], [{ block: block(1, [1, 3]), rows: [0, 1] }]);
    const present = block(3, [2, 4]).layers;
    batch.advance(present);
    assert.deepEqual([batch.columns, batch.lengths], [4, [2, 4]]);
    assert.equal(batch.stepInputs().past[pastKeyName(1)].data, present[1].key);
    assert.throws(() => batch.advance(present.slice(0, 1)), /expected 2 layers/);
  });

  it('refuses rows that do not exist', () => {
    const batch = new KvBatch(layout);
    batch.rebuild([], [{ block: block(1, [2]), rows: [0] }]);
    assert.throws(() => batch.rebuild([1]), /no row 1 in a batch of 1/);
    assert.throws(() => batch.rebuild([], [{ block: block(1, [2]), rows: [3] }]), /no row 3 in a block of 1/);
  });

  it('holds half-precision caches as raw bits', () => {
    const half = new KvBatch({ ...layout, datatype: 'FP16' });
    const bits = { key: new Uint16Array(2 * 3).fill(0x3c00), value: new Uint16Array(2 * 3).fill(0xc000) };
    half.rebuild([], [{ block: { layers: [bits, bits], columns: 1, lengths: [1] }, rows: [0] }]);
    const past = half.stepInputs().past;
    assert.equal(past[pastKeyName(0)].datatype, 'FP16');
    assert.deepEqual(Array.from(past[pastValueName(1)].data as Uint16Array), Array(6).fill(0xc000));
  });
});

/** A decode step's own columns (per layer [rows, kvHeads, 1, headDim]) coded as token `token` of each row. */
function stepColumns(tag: number, rows: number, tokens: number[]): LayerCache[] {
  const make = (layer: number, part: number) => {
    const data = new Float32Array(rows * layout.kvHeads * layout.headDim);
    for (let r = 0; r < rows; r++)
      for (let h = 0; h < layout.kvHeads; h++)
        for (let d = 0; d < layout.headDim; d++)
          data[(r * layout.kvHeads + h) * layout.headDim + d] = code(tag, layer, part, r, h, tokens[r], d);
    return data;
  };
  return [0, 1].map((layer) => ({ key: make(layer, 0), value: make(layer, 1) }));
}

describe('KvBatch in step-column mode', () => {
  it('gives the model buffers with free columns, masked, and its own step as the mask’s last column', () => {
    const batch = new KvBatch(layout, true);
    batch.rebuild([], [{ block: block(1, [2, 4]), rows: [0, 1] }]);
    const room = 4 + STEP_COLUMN_SLACK;
    assert.deepEqual([batch.rows, batch.columns, batch.capacity, batch.lengths], [2, 4, room, [2, 4]]);
    assert.deepEqual(rowOf(batch, 0), expected(1, 0, 2));
    assert.deepEqual(rowOf(batch, 1), expected(1, 1, 4));
    const { attentionMask, positionIds } = batch.stepInputs();
    assert.deepEqual(attentionMask.shape, [2, room + 1]);
    const row = (ones: [number, number]) =>
      Array.from({ length: room + 1 }, (_, c) => ((c >= ones[0] && c < ones[1]) || c === room ? 1n : 0n));
    assert.deepEqual(Array.from(attentionMask.data as BigInt64Array), [...row([2, 4]), ...row([0, 4])]);
    assert.deepEqual(Array.from(positionIds.data as BigInt64Array), [2n, 4n]);
    assert.equal(batch.bytes, 2 * room * (2 * 2 * 2 * 3 * 4));
  });

  it('writes each step’s column after the rows’ tokens, and grows by the slack, contents kept, when full', () => {
    const batch = new KvBatch(layout, true);
    batch.rebuild([], [{ block: block(1, [1, 3]), rows: [0, 1] }]);
    const before = batch.stepInputs().past[pastKeyName(0)].data;
    // Both rows get tokens coded as the block's next ones, so a row reads as one run of tag 1.
    for (let step = 0; step < STEP_COLUMN_SLACK; step++) batch.append(stepColumns(1, 2, [1 + step, 3 + step]));
    assert.equal(batch.stepInputs().past[pastKeyName(0)].data, before, 'no copy while free columns last');
    assert.deepEqual([batch.columns, batch.capacity], [3 + STEP_COLUMN_SLACK, 3 + STEP_COLUMN_SLACK]);
    batch.append(stepColumns(1, 2, [1 + STEP_COLUMN_SLACK, 3 + STEP_COLUMN_SLACK]));
    assert.deepEqual(
      [batch.columns, batch.capacity, batch.lengths],
      [4 + STEP_COLUMN_SLACK, 3 + 2 * STEP_COLUMN_SLACK, [2 + STEP_COLUMN_SLACK, 4 + STEP_COLUMN_SLACK]],
    );
    assert.deepEqual(rowOf(batch, 0), expected(1, 0, 2 + STEP_COLUMN_SLACK));
    assert.deepEqual(rowOf(batch, 1), expected(1, 1, 4 + STEP_COLUMN_SLACK));
    // Rows leave and join as in the other mode, into buffers with the slack again.
    batch.rebuild([1], [{ block: block(2, [5]), rows: [0] }]);
    assert.deepEqual(
      [batch.columns, batch.capacity, batch.lengths],
      [4 + STEP_COLUMN_SLACK, 4 + 2 * STEP_COLUMN_SLACK, [4 + STEP_COLUMN_SLACK, 5]],
    );
    assert.deepEqual(rowOf(batch, 0), expected(1, 1, 4 + STEP_COLUMN_SLACK));
    assert.deepEqual(rowOf(batch, 1), expected(2, 0, 5));
  });

  it('appends half-precision step columns as raw bits', () => {
    const half = new KvBatch({ ...layout, datatype: 'FP16' }, true);
    const bits = { key: new Uint16Array(2 * 3).fill(0x3c00), value: new Uint16Array(2 * 3).fill(0xc000) };
    half.rebuild([], [{ block: { layers: [bits, bits], columns: 1, lengths: [1] }, rows: [0] }]);
    const step = { key: new Uint16Array(2 * 3).fill(0x4000), value: new Uint16Array(2 * 3).fill(0x4200) };
    half.append([step, step]);
    const key = half.stepInputs().past[pastKeyName(1)];
    assert.equal(key.datatype, 'FP16');
    const room = half.capacity;
    // Per head: the prompt's column, the step's column, then free (zero) columns.
    const head = [...Array(3).fill(0x3c00), ...Array(3).fill(0x4000), ...Array((room - 2) * 3).fill(0)];
    assert.deepEqual(Array.from(key.data as Uint16Array), [...head, ...head]);
  });

  it('refuses the other mode’s growth and step columns of the wrong size', () => {
    const batch = new KvBatch(layout, true);
    batch.rebuild([], [{ block: block(1, [2]), rows: [0] }]);
    assert.throws(() => batch.advance(block(3, [3]).layers), /grows by append/);
    assert.throws(() => batch.append(stepColumns(1, 2, [2, 2])), /a step's cache has 12 values, not 6/);
    assert.throws(() => new KvBatch(layout).append(stepColumns(1, 1, [0])), /step-column mode/);
  });
});

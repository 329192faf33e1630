import type { NumericData, NumericDatatype, Tensor } from '../contracts/tensor.js';

/** What the decode loop needs to know of a decoder's cache: read from config.json and the graph's inputs. */
export interface CacheLayout {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** The cache's element type (FP32, or FP16 for half-precision exports). */
  datatype: Extract<NumericDatatype, 'FP32' | 'FP16'>;
}

/** One layer's key and value caches, each [rows, kvHeads, columns, headDim]. */
export interface LayerCache {
  key: NumericData;
  value: NumericData;
}

/** A block of rows as the model returned them: per layer [rows, kvHeads, columns, headDim], row r's tokens in its last `lengths[r]` columns. */
export interface CacheBlock {
  layers: LayerCache[];
  columns: number;
  lengths: readonly number[];
}

export const pastKeyName = (layer: number): string => `past_key_values.${layer}.key`;
export const pastValueName = (layer: number): string => `past_key_values.${layer}.value`;
export const presentKeyName = (layer: number): string => `present.${layer}.key`;
export const presentValueName = (layer: number): string => `present.${layer}.value`;

/** Bytes one token of one sequence holds in the cache (keys and values of every layer). */
export function bytesPerToken(layout: CacheLayout): number {
  return layout.layers * 2 * layout.kvHeads * layout.headDim * (layout.datatype === 'FP16' ? 2 : 4);
}

function allocate(layout: CacheLayout, length: number): NumericData {
  return layout.datatype === 'FP16' ? new Uint16Array(length) : new Float32Array(length);
}

/**
 * Free columns a batch in step-column mode keeps past its width, so that it grows (a copy of the
 * cache) once every this many steps; the model also attends over them (masked), which costs far
 * less than the copy it saves.
 */
export const STEP_COLUMN_SLACK = 32;

/**
 * The running sequences' key/value caches as one left-padded batch: row r's `lengths[r]` tokens sit in
 * the columns just before `columns`, the columns before them are padding that the attention mask
 * hides. The cache is copied when rows join or leave (`rebuild`), which also drops the leading
 * columns no row uses any more. Between those, decode steps grow it one of two ways:
 *
 * - `advance`: the model's `present` outputs (the whole cache, one column wider) become the next
 *   past without a copy. ONNX Runtime hands each step's present to JavaScript as new buffers,
 *   which the garbage collector then frees: the whole cache allocated and collected every step.
 * - `append` (step-column mode, for graphs that output a step's own key and value, see
 *   last-position-graph.ts): the batch owns buffers of `capacity` columns and writes the step's one
 *   column at `columns`; the model gets the whole buffer as its past with the unused columns
 *   masked, and its own new column is the last one of the mask. Nothing the size of the cache is
 *   allocated per step (measured on the bench decoder: 30 % faster steps at 16 rows, 8 % at one).
 */
export class KvBatch {
  private layerCaches: LayerCache[];
  private rowLengths: number[] = [];
  private width = 0;
  /** Columns the buffers hold: `width`, or more in step-column mode. */
  private room = 0;

  constructor(
    private readonly layout: CacheLayout,
    private readonly stepColumns = false,
  ) {
    this.layerCaches = this.emptyLayers(0, 0);
  }

  get rows(): number {
    return this.rowLengths.length;
  }

  /** The padded length every row's past has. */
  get columns(): number {
    return this.width;
  }

  /** Columns the past the model is given has: `columns`, plus the free ones in step-column mode. */
  get capacity(): number {
    return this.room;
  }

  get lengths(): readonly number[] {
    return this.rowLengths;
  }

  /** Bytes the cache holds now, padding (and free columns) included. */
  get bytes(): number {
    return this.rows * this.room * bytesPerToken(this.layout);
  }

  /**
   * The decode step's inputs beside input_ids: the past caches [rows, kvHeads, capacity, headDim],
   * the attention mask [rows, capacity + 1] (ones over each row's tokens and the step's own last
   * column, zeros over padding and free columns) and the position ids [rows, 1] (each row's length).
   */
  stepInputs(): { past: Record<string, Tensor>; attentionMask: Tensor; positionIds: Tensor } {
    const { rows, width, room } = this;
    const past: Record<string, Tensor> = {};
    const shape = [rows, this.layout.kvHeads, room, this.layout.headDim];
    this.layerCaches.forEach((cache, i) => {
      past[pastKeyName(i)] = { datatype: this.layout.datatype, shape, data: cache.key };
      past[pastValueName(i)] = { datatype: this.layout.datatype, shape, data: cache.value };
    });
    const mask = new BigInt64Array(rows * (room + 1));
    const positions = new BigInt64Array(rows);
    this.rowLengths.forEach((length, r) => {
      mask.fill(1n, r * (room + 1) + (width - length), r * (room + 1) + width);
      mask[r * (room + 1) + room] = 1n;
      positions[r] = BigInt(length);
    });
    return {
      past,
      attentionMask: { datatype: 'INT64', shape: [rows, room + 1], data: mask },
      positionIds: { datatype: 'INT64', shape: [rows, 1], data: positions },
    };
  }

  /** Takes a decode step's `present` caches (one more column, each row one token longer) as the new past, without copying. */
  advance(present: LayerCache[]): void {
    if (this.stepColumns) throw new Error('a batch in step-column mode grows by append()');
    this.checkLayers(present);
    this.layerCaches = present;
    this.width += 1;
    this.room = this.width;
    this.rowLengths = this.rowLengths.map((length) => length + 1);
  }

  /**
   * Writes a decode step's own keys and values (per layer [rows, kvHeads, 1, headDim]) into column
   * `columns` of the buffers, growing them by STEP_COLUMN_SLACK columns first when they are full.
   */
  append(step: LayerCache[]): void {
    if (!this.stepColumns) throw new Error('append() is for a batch in step-column mode');
    this.checkLayers(step);
    const { kvHeads, headDim } = this.layout;
    const runs = this.rows * kvHeads;
    for (const cache of step) {
      for (const part of [cache.key, cache.value]) {
        if (part.length !== runs * headDim) throw new RangeError(`a step's cache has ${part.length} values, not ${runs * headDim}`);
      }
    }
    if (this.width === this.room) this.regrow(this.width + STEP_COLUMN_SLACK);
    const room = this.room;
    step.forEach((cache, layer) => {
      const target = this.layerCaches[layer]!;
      for (let run = 0; run < runs; run++) {
        const from = run * headDim;
        const to = (run * room + this.width) * headDim;
        target.key.set(cache.key.subarray(from, from + headDim) as never, to);
        target.value.set(cache.value.subarray(from, from + headDim) as never, to);
      }
    });
    this.width += 1;
    this.rowLengths = this.rowLengths.map((length) => length + 1);
  }

  /**
   * Copies the rows to keep (indices into the current rows, in their new order) and then the given
   * rows of each joining block into a fresh batch whose width is the longest kept or joining row.
   */
  rebuild(keep: readonly number[], joining: ReadonlyArray<{ block: CacheBlock; rows: readonly number[] }> = []): void {
    const sources: Array<{ layers: LayerCache[]; columns: number; room: number; row: number; length: number }> = [];
    for (const r of keep) {
      if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`no row ${r} in a batch of ${this.rows}`);
      sources.push({ layers: this.layerCaches, columns: this.width, room: this.room, row: r, length: this.rowLengths[r]! });
    }
    for (const { block, rows } of joining) {
      this.checkLayers(block.layers);
      for (const row of rows) {
        const length = block.lengths[row];
        if (length === undefined) throw new RangeError(`no row ${row} in a block of ${block.lengths.length}`);
        if (length > block.columns) throw new RangeError(`a row of ${length} tokens in a block of ${block.columns} columns`);
        sources.push({ layers: block.layers, columns: block.columns, room: block.columns, row, length });
      }
    }
    const width = sources.reduce((max, s) => Math.max(max, s.length), 0);
    const room = this.stepColumns && sources.length > 0 ? width + STEP_COLUMN_SLACK : width;
    this.layerCaches = this.copied(sources, width, room);
    this.width = width;
    this.room = room;
    this.rowLengths = sources.map((s) => s.length);
  }

  /** The same rows and columns in buffers of `room` columns. */
  private regrow(room: number): void {
    const sources = this.rowLengths.map((length, row) => ({ layers: this.layerCaches, columns: this.width, room: this.room, row, length }));
    this.layerCaches = this.copied(sources, this.width, room);
    this.room = room;
  }

  /** New buffers of `room` columns holding each source row's tokens right-aligned at column `width`. */
  private copied(
    sources: ReadonlyArray<{ layers: LayerCache[]; columns: number; room: number; row: number; length: number }>,
    width: number,
    room: number,
  ): LayerCache[] {
    const layers = this.emptyLayers(sources.length, room);
    const { kvHeads, headDim } = this.layout;
    sources.forEach((source, target) => {
      const runLength = source.length * headDim;
      for (let layer = 0; layer < this.layout.layers; layer++) {
        for (const part of ['key', 'value'] as const) {
          const from = source.layers[layer]![part];
          const to = layers[layer]![part];
          for (let head = 0; head < kvHeads; head++) {
            const fromStart = ((source.row * kvHeads + head) * source.room + (source.columns - source.length)) * headDim;
            const toStart = ((target * kvHeads + head) * room + (width - source.length)) * headDim;
            to.set(from.subarray(fromStart, fromStart + runLength) as never, toStart);
          }
        }
      }
    });
    return layers;
  }

  private emptyLayers(rows: number, width: number): LayerCache[] {
    const length = rows * this.layout.kvHeads * width * this.layout.headDim;
    return Array.from({ length: this.layout.layers }, () => ({ key: allocate(this.layout, length), value: allocate(this.layout, length) }));
  }

  private checkLayers(layers: LayerCache[]): void {
    if (layers.length !== this.layout.layers) throw new RangeError(`expected ${this.layout.layers} layers of cache, got ${layers.length}`);
  }
}

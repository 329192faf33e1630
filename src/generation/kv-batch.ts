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
 * The running sequences' key/value caches as one left-padded batch: row r's `lengths[r]` tokens sit in
 * the last columns, the columns before them are padding that the attention mask hides. Decode steps
 * feed the model's `present` outputs back as the next `past` without a copy; the cache is copied only
 * when rows join or leave (`rebuild`), which also drops the leading columns no row uses any more.
 */
export class KvBatch {
  private layerCaches: LayerCache[];
  private rowLengths: number[] = [];
  private width = 0;

  constructor(private readonly layout: CacheLayout) {
    this.layerCaches = this.emptyLayers(0, 0);
  }

  get rows(): number {
    return this.rowLengths.length;
  }

  /** The padded length every row's past has. */
  get columns(): number {
    return this.width;
  }

  get lengths(): readonly number[] {
    return this.rowLengths;
  }

  /** Bytes the cache holds now, padding included. */
  get bytes(): number {
    return this.rows * this.width * bytesPerToken(this.layout);
  }

  /**
   * The decode step's inputs beside input_ids: the past caches, the attention mask [rows, columns + 1]
   * (zeros over each row's padding) and the position ids [rows, 1] (each row's own length).
   */
  stepInputs(): { past: Record<string, Tensor>; attentionMask: Tensor; positionIds: Tensor } {
    const { rows, width } = this;
    const past: Record<string, Tensor> = {};
    const shape = [rows, this.layout.kvHeads, width, this.layout.headDim];
    this.layerCaches.forEach((cache, i) => {
      past[pastKeyName(i)] = { datatype: this.layout.datatype, shape, data: cache.key };
      past[pastValueName(i)] = { datatype: this.layout.datatype, shape, data: cache.value };
    });
    const mask = new BigInt64Array(rows * (width + 1));
    const positions = new BigInt64Array(rows);
    this.rowLengths.forEach((length, r) => {
      mask.fill(1n, r * (width + 1) + (width - length), (r + 1) * (width + 1));
      positions[r] = BigInt(length);
    });
    return {
      past,
      attentionMask: { datatype: 'INT64', shape: [rows, width + 1], data: mask },
      positionIds: { datatype: 'INT64', shape: [rows, 1], data: positions },
    };
  }

  /** Takes a decode step's `present` caches (one more column, each row one token longer) as the new past, without copying. */
  advance(present: LayerCache[]): void {
    this.checkLayers(present);
    this.layerCaches = present;
    this.width += 1;
    this.rowLengths = this.rowLengths.map((length) => length + 1);
  }

  /**
   * Copies the rows to keep (indices into the current rows, in their new order) and then the given
   * rows of each joining block into a fresh batch whose width is the longest kept or joining row.
   */
  rebuild(keep: readonly number[], joining: ReadonlyArray<{ block: CacheBlock; rows: readonly number[] }> = []): void {
    const sources: Array<{ layers: LayerCache[]; columns: number; row: number; length: number }> = [];
    for (const r of keep) {
      if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`no row ${r} in a batch of ${this.rows}`);
      sources.push({ layers: this.layerCaches, columns: this.width, row: r, length: this.rowLengths[r] });
    }
    for (const { block, rows } of joining) {
      this.checkLayers(block.layers);
      for (const row of rows) {
        const length = block.lengths[row];
        if (length === undefined) throw new RangeError(`no row ${row} in a block of ${block.lengths.length}`);
        if (length > block.columns) throw new RangeError(`a row of ${length} tokens in a block of ${block.columns} columns`);
        sources.push({ layers: block.layers, columns: block.columns, row, length });
      }
    }
    const width = sources.reduce((max, s) => Math.max(max, s.length), 0);
    const layers = this.emptyLayers(sources.length, width);
    const { kvHeads, headDim } = this.layout;
    sources.forEach((source, target) => {
      const runLength = source.length * headDim;
      for (let layer = 0; layer < this.layout.layers; layer++) {
        for (const part of ['key', 'value'] as const) {
          const from = source.layers[layer][part];
          const to = layers[layer][part];
          for (let head = 0; head < kvHeads; head++) {
            const fromStart = ((source.row * kvHeads + head) * source.columns + (source.columns - source.length)) * headDim;
            const toStart = ((target * kvHeads + head) * width + (width - source.length)) * headDim;
            to.set(from.subarray(fromStart, fromStart + runLength) as never, toStart);
          }
        }
      }
    });
    this.layerCaches = layers;
    this.width = width;
    this.rowLengths = sources.map((s) => s.length);
  }

  private emptyLayers(rows: number, width: number): LayerCache[] {
    const length = rows * this.layout.kvHeads * width * this.layout.headDim;
    return Array.from({ length: this.layout.layers }, () => ({ key: allocate(this.layout, length), value: allocate(this.layout, length) }));
  }

  private checkLayers(layers: LayerCache[]): void {
    if (layers.length !== this.layout.layers) throw new RangeError(`expected ${this.layout.layers} layers of cache, got ${layers.length}`);
  }
}

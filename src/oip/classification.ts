/**
 * Triton's classification extension: an output requested with `parameters.classification: k`
 * comes back as BYTES [batch, k] (or [k] without a batch dimension), each element
 * `"<value>:<index>[:<label>]"` for the k highest values of that row, highest first.
 */
import type { Tensor } from '../contracts/tensor.js';
import { fail } from './codec-errors.js';
import { fp16BitsToFloat32 } from './fp16.js';

/** The most classes one output may ask for: bounds the strings built per row. */
export const MAX_CLASSIFICATION = 1000;

/** `parameters.classification` of a requested output: a positive integer, or undefined when absent. */
export function classificationCount(output: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_CLASSIFICATION) {
    fail(`output "${output}": parameters.classification must be an integer from 1 to ${MAX_CLASSIFICATION}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The top `count` classes of each row. `batched`: the first dimension is the batch (each row is
 * the rest, flattened); else the whole tensor is one row. Ties keep the lower index first.
 */
export function classify(output: string, tensor: Tensor, count: number, batched: boolean, labels?: readonly string[]): Tensor {
  if (tensor.datatype === 'BYTES') fail(`output "${output}" is BYTES; classification needs a numeric output`);
  const values = numbers(tensor);
  const rows = batched ? (tensor.shape[0] ?? 1) : 1;
  const perRow = rows === 0 ? 0 : values.length / rows;
  const k = Math.min(count, perRow);
  const data: string[] = [];
  const float = tensor.datatype.startsWith('FP');
  const order = Array.from({ length: perRow }, (_, i) => i);
  for (let r = 0; r < rows; r += 1) {
    const row = values.slice(r * perRow, (r + 1) * perRow);
    const top = [...order].sort((a, b) => compare(row[b]!, row[a]!) || a - b).slice(0, k);
    for (const index of top) {
      const label = labels?.[index];
      data.push(`${format(row[index]!, float)}:${index}${label === undefined ? '' : `:${label}`}`);
    }
  }
  return { datatype: 'BYTES', shape: batched ? [rows, k] : [k], data };
}

function numbers(tensor: Tensor): Array<number | bigint> {
  if (tensor.datatype === 'FP16') return Array.from(tensor.data as Uint16Array, fp16BitsToFloat32);
  return Array.from(tensor.data as ArrayLike<number | bigint>);
}

function compare(a: number | bigint, b: number | bigint): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a > b ? 1 : a < b ? -1 : 0;
}

/** As Triton prints it (C++ std::to_string): floats with six decimals, integers as they are. */
function format(value: number | bigint, float: boolean): string {
  if (!float) return String(value);
  const n = value as number;
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return (Object.is(n, -0) ? '-' : '') + n.toFixed(6);
}

import { elementCount, type NamedTensors } from '../contracts/tensor.js';

/** Values of an unbatched input up to this many elements are compared; larger ones never share a batch. */
const COMPARED_ELEMENTS = 64;
let unique = 0;

/** Requests with equal signatures can share a batch: same datatypes, same shapes but for the batch axis, same unbatched values. */
export function signatureOf(inputs: NamedTensors, outputs: string[], axes: Record<string, number | null> = {}): string {
  const parts = Object.keys(inputs)
    .sort()
    .map((name) => {
      const t = inputs[name]!;
      const axis = axes[name] === undefined ? 0 : axes[name];
      if (axis !== null) return `${name}:${t.datatype}:${t.shape.filter((_, i) => i !== axis).join('x')}`;
      const n = elementCount(t.shape);
      // A raw tensor's data is its little-endian bytes, compared as such: equal to a typed one's
      // values only for 1-byte types, otherwise the two just do not share a run.
      const values =
        n > COMPARED_ELEMENTS
          ? `#${(unique += 1)}`
          : Array.isArray(t.data)
            ? JSON.stringify(t.data)
            : Array.from(t.data as ArrayLike<number | bigint>, String).join(',');
      return `${name}:${t.datatype}:${t.shape.join('x')}=${values}`;
    });
  return `${parts.join('|')}=>${outputs.join(',')}`;
}

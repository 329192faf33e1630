import type { TrainerState } from './types.js';

/**
 * TrainerState as bytes: "LATHETS1", a little-endian u32 header length, a JSON header with the
 * scalars and the array directory, then each array's little-endian bytes at an 8-byte boundary.
 * Numbers in the header are JavaScript doubles, which JSON round-trips exactly.
 */
const MAGIC = 'LATHETS1';

type ArrayKind = 'f32' | 'i32' | 'u32';
interface ArrayEntry {
  name: string;
  kind: ArrayKind;
  length: number;
}
interface Header {
  version: 1;
  fingerprint: string;
  epoch: number;
  step: number;
  cursor: number;
  epochLossSum: number;
  epochCorrect: number;
  epochsWithoutImprovement: number;
  finished?: TrainerState['finished'];
  best?: { loss: number; epoch: number };
  arrays: ArrayEntry[];
}

const CTORS = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;
const pad8 = (n: number) => (n + 7) & ~7;

export function serializeState(s: TrainerState): Uint8Array {
  const arrays: Array<[string, Float32Array | Int32Array | Uint32Array]> = [
    ['rng', s.rng],
    ['params', s.params],
  ];
  s.moments.forEach((m, i) => arrays.push([`moment${i}`, m]));
  if (s.order) arrays.push(['order', s.order]);
  if (s.best) arrays.push(['bestParams', s.best.params]);
  const header: Header = {
    version: s.version,
    fingerprint: s.fingerprint,
    epoch: s.epoch,
    step: s.step,
    cursor: s.cursor,
    epochLossSum: s.epochLossSum,
    epochCorrect: s.epochCorrect,
    epochsWithoutImprovement: s.epochsWithoutImprovement,
    finished: s.finished,
    best: s.best && { loss: s.best.loss, epoch: s.best.epoch },
    arrays: arrays.map(([name, a]) => ({ name, kind: kindOf(a), length: a.length })),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  let offset = pad8(MAGIC.length + 4 + json.length);
  const total = arrays.reduce((n, [, a]) => n + pad8(a.byteLength), offset);
  const bytes = new Uint8Array(total);
  bytes.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(bytes.buffer).setUint32(MAGIC.length, json.length, true);
  bytes.set(json, MAGIC.length + 4);
  for (const [, a] of arrays) {
    bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += pad8(a.byteLength);
  }
  return bytes;
}

export function deserializeState(bytes: Uint8Array): TrainerState {
  if (bytes.length < MAGIC.length + 4 || Buffer.from(bytes.subarray(0, MAGIC.length)).toString('latin1') !== MAGIC) {
    throw new Error('not a Lathe trainer state');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(MAGIC.length, true);
  const header = JSON.parse(Buffer.from(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength)).toString('utf8')) as Header;
  if (header.version !== 1) throw new Error(`unknown trainer state version ${String(header.version)}`);
  let offset = pad8(MAGIC.length + 4 + jsonLength);
  const arrays = new Map<string, Float32Array | Int32Array | Uint32Array>();
  for (const entry of header.arrays) {
    const ctor = CTORS[entry.kind];
    const byteLength = entry.length * ctor.BYTES_PER_ELEMENT;
    if (offset + byteLength > bytes.length) throw new Error('truncated trainer state');
    // A copy: the result must not alias (or misalign on) the caller's buffer. Not bytes.slice(): on a
    // Node Buffer that is a view, whose .buffer may be Node's whole shared pool.
    arrays.set(entry.name, new ctor(new Uint8Array(bytes.subarray(offset, offset + byteLength)).buffer));
    offset += pad8(byteLength);
  }
  const get = <T>(name: string) => arrays.get(name) as T;
  const moments: Float32Array[] = [];
  for (let i = 0; arrays.has(`moment${i}`); i += 1) moments.push(get<Float32Array>(`moment${i}`));
  return {
    version: 1,
    fingerprint: header.fingerprint,
    epoch: header.epoch,
    step: header.step,
    rng: get<Uint32Array>('rng'),
    params: get<Float32Array>('params'),
    moments,
    order: arrays.has('order') ? get<Int32Array>('order') : undefined,
    cursor: header.cursor,
    epochLossSum: header.epochLossSum,
    epochCorrect: header.epochCorrect,
    best: header.best && { ...header.best, params: get<Float32Array>('bestParams') },
    epochsWithoutImprovement: header.epochsWithoutImprovement,
    finished: header.finished,
  };
}

function kindOf(a: Float32Array | Int32Array | Uint32Array): ArrayKind {
  return a instanceof Float32Array ? 'f32' : a instanceof Int32Array ? 'i32' : 'u32';
}

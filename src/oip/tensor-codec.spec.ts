import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../common/errors/error-code.js';
import {
  type HostTensor,
  type OipDatatype,
  type TensorData,
  OIP_DATATYPES,
  decodeBinaryTensor,
  decodeJsonTensor,
  elementCount,
  encodeBinaryData,
  encodeJsonData,
} from './tensor-codec.js';

const X = 'input "x"';
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const invalid = (message: string) => ({ code: ErrorCode.ValidationFailed, message });
/** Typed arrays compared as plain arrays, so NaN equals NaN and -0 differs from 0, plus their class. */
const plain = (data: TensorData) => ({ kind: data.constructor.name, values: Array.from(data as ArrayLike<unknown>) });
const plainTensor = (t: HostTensor) => ({ datatype: t.datatype, shape: t.shape, ...plain(t.data) });

describe('elementCount', () => {
  it('multiplies the dimensions; a scalar has one element', () => {
    assert.deepEqual([[], [0], [3], [2, 3, 4]].map(elementCount), [1, 0, 3, 24]);
  });
});

describe('decodeJsonTensor', () => {
  const valid: Array<[OipDatatype, number[], unknown[], TensorData]> = [
    ['BOOL', [3], [true, false, 1], Uint8Array.of(1, 0, 1)],
    [
      'UINT8',
      [2, 2],
      [
        [0, 255],
        [7, 8],
      ],
      Uint8Array.of(0, 255, 7, 8),
    ],
    ['INT8', [2], [-128, 127], Int8Array.of(-128, 127)],
    ['UINT16', [1], [65535], Uint16Array.of(65535)],
    ['INT16', [2], [-32768, 32767], Int16Array.of(-32768, 32767)],
    ['UINT32', [1], [4294967295], Uint32Array.of(4294967295)],
    ['INT32', [2, 1, 1], [[[-2147483648]], [[2147483647]]], Int32Array.of(-2147483648, 2147483647)],
    ['UINT64', [2], ['18446744073709551615', 5], BigUint64Array.of(2n ** 64n - 1n, 5n)],
    [
      'INT64',
      [3],
      ['-9223372036854775808', '9223372036854775807', -9007199254740991],
      BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, -9007199254740991n),
    ],
    ['FP16', [5], [1, -2, 65504, 0.1, 'Infinity'], Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x2e66, 0x7c00)],
    ['FP32', [2, 2], [0.1, 'NaN', '-Infinity', -0], Float32Array.of(0.1, NaN, -Infinity, -0)],
    ['FP64', [], [1e308], Float64Array.of(1e308)],
    ['BYTES', [1, 3], [['héllo', '', '😀']], ['héllo', '', '😀']],
    ['FP32', [2, 0], [], new Float32Array(0)],
    [
      'INT32',
      [2, 3],
      [
        [1, 2],
        [3, 4, 5, 6],
      ],
      Int32Array.of(1, 2, 3, 4, 5, 6),
    ], // any nesting is flattened
  ];
  for (const [datatype, shape, data, expected] of valid) {
    it(`decodes ${datatype} ${JSON.stringify(data).slice(0, 40)}`, () => {
      const tensor = decodeJsonTensor(X, datatype, shape, data);
      assert.deepEqual(plainTensor(tensor), { datatype, shape, ...plain(expected) });
    });
  }

  it('flattens deep nesting without recursion', () => {
    let data: unknown = [7];
    for (let i = 0; i < 100_000; i++) data = [data];
    assert.deepEqual(plain(decodeJsonTensor(X, 'INT8', [1], data).data), plain(Int8Array.of(7)));
  });

  const bad: Array<[unknown, unknown, unknown, string]> = [
    ['FP99', [1], [1], 'datatype "FP99" is not an Open Inference Protocol datatype'],
    [7, [1], [1], 'datatype 7 is not an Open Inference Protocol datatype'],
    [undefined, [1], [1], 'datatype undefined is not an Open Inference Protocol datatype'],
    ['FP32', [2, -1], [], 'shape must be an array of non-negative integers'],
    ['FP32', [1.5], [], 'shape must be an array of non-negative integers'],
    ['FP32', '3', [], 'shape must be an array of non-negative integers'],
    ['FP32', [1], 5, 'data must be an array, got 5'],
    ['FP32', [2, 3], [1, 2, 3, 4, 5], 'shape [2,3] needs 6 elements, got 5'],
    ['FP32', [], [], 'shape [] needs 1 elements, got 0'],
    ['FP32', [4], [1, 2, 3, 'abc'], 'element 3 is "abc", not a number'],
    ['FP32', [1], ['a'.repeat(100)], `element 0 is "${'a'.repeat(36)}..., not a number`],
    ['FP32', [1], [{}], 'element 0 is {}, not a number'],
    ['FP32', [1], [1e39], 'element 0 (1e+39) is out of range for FP32'],
    ['FP16', [1], [65520], 'element 0 (65520) is out of range for FP16'],
    ['FP64', [1], ['nan'], 'element 0 is "nan", not a number'],
    ['UINT8', [1], [300], 'element 0 (300) is out of range for UINT8'],
    ['INT8', [2], [0, -129], 'element 1 (-129) is out of range for INT8'],
    ['UINT32', [1], [-1], 'element 0 (-1) is out of range for UINT32'],
    ['INT32', [3], [0, 1, 1.5], 'element 2 (1.5) is not an integer for INT32'],
    ['INT16', [1], [true], 'element 0 is true, not a number'],
    ['UINT16', [1], [null], 'element 0 is null, not a number'],
    ['INT32', [1], ['5'], 'element 0 is "5", not a number'],
    ['BOOL', [1], [2], 'element 0 is 2, not a boolean'],
    ['BOOL', [1], ['true'], 'element 0 is "true", not a boolean'],
    ['INT64', [1], [2 ** 53], 'element 0 (9007199254740992) is beyond 2^53 and may have lost precision; send it as a decimal string'],
    ['INT64', [1], [0.5], 'element 0 (0.5) is not an integer for INT64'],
    ['INT64', [1], ['1.5'], 'element 0 is "1.5", not a number or decimal string'],
    ['INT64', [1], [false], 'element 0 is false, not a number or decimal string'],
    ['INT64', [1], ['9223372036854775808'], 'element 0 (9223372036854775808) is out of range for INT64'],
    ['UINT64', [1], [-1], 'element 0 (-1) is out of range for UINT64'],
    ['BYTES', [1], [5], 'element 0 is 5, not a string'],
    ['BYTES', [2], ['ok', 'a\ud800'], 'element 1 has a lone UTF-16 surrogate, which UTF-8 cannot carry'],
  ];
  for (const [datatype, shape, data, message] of bad) {
    it(`rejects ${message.slice(0, 50)}`, () => {
      assert.throws(() => decodeJsonTensor(X, datatype, shape, data), invalid(`${X}: ${message}`));
    });
  }
});

describe('decodeBinaryTensor', () => {
  const valid: Array<[OipDatatype, number[], string, TensorData]> = [
    ['FP32', [2], '0000803f 000000c0', Float32Array.of(1, -2)],
    ['FP64', [], '000000000000f07f', Float64Array.of(Infinity)],
    ['FP16', [2], '003c 0080', Uint16Array.of(0x3c00, 0x8000)],
    ['INT16', [2], 'ffff 0080', Int16Array.of(-1, -32768)],
    ['UINT32', [1], '78563412', Uint32Array.of(0x12345678)],
    ['UINT64', [1], 'ffffffffffffffff', BigUint64Array.of(2n ** 64n - 1n)],
    ['INT64', [1, 1], 'feffffffffffffff', BigInt64Array.of(-2n)],
    ['BOOL', [3], '010001', Uint8Array.of(1, 0, 1)],
    ['INT8', [2], '80ff', Int8Array.of(-128, -1)],
    ['BYTES', [2], '03000000 616263 00000000', ['abc', '']],
    ['BYTES', [1], '04000000 efbbbf61', ['\ufeffa']], // a leading U+FEFF is data
    ['BYTES', [0], '', []],
  ];
  for (const [datatype, shape, bytes, expected] of valid) {
    it(`decodes ${datatype} ${bytes}`, () => {
      assert.deepEqual(plainTensor(decodeBinaryTensor(X, datatype, shape, hex(bytes))), { datatype, shape, ...plain(expected) });
    });
  }

  it('copies an unaligned slice into an aligned array of its own', () => {
    const body = hex('ff 000000000000f03f 0000000000000040');
    const tensor = decodeBinaryTensor(X, 'FP64', [2], body.subarray(1));
    body.fill(0);
    assert.deepEqual(plain(tensor.data), plain(Float64Array.of(1, 2)));
    assert.equal((tensor.data as Float64Array).byteOffset, 0);
  });

  const bad: Array<[unknown, unknown, string, string]> = [
    ['FP99', [1], '00', 'datatype "FP99" is not an Open Inference Protocol datatype'],
    ['FP32', [-1], '', 'shape must be an array of non-negative integers'],
    ['FP32', [3], '00'.repeat(10), 'binary data is 10 bytes, shape [3] of FP32 needs 12'],
    ['INT64', [], '00'.repeat(16), 'binary data is 16 bytes, shape [] of INT64 needs 8'],
    ['BOOL', [3], '000102', 'element 2 (2) is not a BOOL byte (0 or 1)'],
    ['BYTES', [2], '01000000 61 01000000 ff', 'element 1 is not valid UTF-8'],
    ['BYTES', [2], '01000000 61 0100', 'binary data ends before element 1 (2 bytes left, its length takes 4)'],
    ['BYTES', [1], '05000000 6162', 'element 0 is 5 bytes, but only 2 bytes are left'],
    ['BYTES', [1], '01000000 61 00', 'binary data has 1 bytes left over after all 1 elements'],
  ];
  for (const [datatype, shape, bytes, message] of bad) {
    it(`rejects ${message.slice(0, 50)}`, () => {
      assert.throws(() => decodeBinaryTensor(X, datatype, shape, hex(bytes)), invalid(`${X}: ${message}`));
    });
  }
});

describe('encodeJsonData and encodeBinaryData', () => {
  const json: Array<[HostTensor, unknown[]]> = [
    [{ datatype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) }, [true, false]],
    [{ datatype: 'UINT8', shape: [2], data: Uint8Array.of(0, 255) }, [0, 255]],
    [{ datatype: 'INT64', shape: [2], data: BigInt64Array.of(-5n, 2n ** 62n) }, [-5, 2 ** 62]],
    [{ datatype: 'UINT64', shape: [1], data: BigUint64Array.of(2n ** 64n - 1n) }, [2 ** 64]],
    [
      { datatype: 'FP16', shape: [5], data: Uint16Array.of(0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x2e66) },
      [1, 'Infinity', '-Infinity', 'NaN', 0.0999755859375],
    ],
    [{ datatype: 'FP32', shape: [1, 3], data: Float32Array.of(NaN, 1.5, -0) }, ['NaN', 1.5, -0]],
    [{ datatype: 'FP64', shape: [], data: Float64Array.of(-Infinity) }, ['-Infinity']],
    [{ datatype: 'BYTES', shape: [2], data: ['a', 'é'] }, ['a', 'é']],
  ];
  for (const [tensor, expected] of json) {
    it(`encodes ${tensor.datatype} as JSON ${JSON.stringify(expected)}`, () => assert.deepEqual(encodeJsonData(tensor), expected));
  }

  const binary: Array<[HostTensor, string]> = [
    [{ datatype: 'FP32', shape: [2], data: Float32Array.of(1, -2) }, '0000803f000000c0'],
    [{ datatype: 'INT64', shape: [1], data: BigInt64Array.of(-2n) }, 'feffffffffffffff'],
    [{ datatype: 'BOOL', shape: [2], data: Uint8Array.of(0, 1) }, '0001'],
    [{ datatype: 'BYTES', shape: [2], data: ['abc', 'é'] }, '03000000616263' + '02000000c3a9'],
    [{ datatype: 'INT16', shape: [1], data: Int16Array.of(1, 2, 3).subarray(1, 2) }, '0200'], // a view at an offset
  ];
  for (const [tensor, expected] of binary) {
    it(`encodes ${tensor.datatype} as binary ${expected}`, () => {
      assert.equal(Buffer.from(encodeBinaryData(tensor)).toString('hex'), expected);
    });
  }

  it('refuses a tensor whose data does not fit its datatype or shape (a server bug, not VALIDATION_FAILED)', () => {
    const wrongClass: HostTensor = { datatype: 'FP16', shape: [2], data: Float32Array.of(1, 2) };
    const wrongLength: HostTensor = { datatype: 'BYTES', shape: [2, 2], data: ['a'] };
    assert.throws(() => encodeJsonData(wrongClass), { name: 'Error', message: 'FP16 tensor of shape [2] holds Float32Array(2)' });
    assert.throws(() => encodeBinaryData(wrongLength), { name: 'Error', message: 'BYTES tensor of shape [2,2] holds Array(1)' });
  });
});

describe('round trips', () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const randomBigInt = (bits: bigint) => BigInt.asUintN(Number(bits), BigInt(int(2 ** 30)) << BigInt(int(Number(bits) - 29)));
  const texts = ['', 'a', 'héllo', '😀 ok', '\ufeffbom', '\u0000nul', 'ascii text'];
  const samples: Record<OipDatatype, () => unknown> = {
    BOOL: () => int(2),
    UINT8: () => int(256),
    UINT16: () => pick([0, 65535, int(65536)]),
    UINT32: () => pick([0, 2 ** 32 - 1, int(2 ** 32)]),
    INT8: () => int(256) - 128,
    INT16: () => pick([-32768, 32767, int(65536) - 32768]),
    INT32: () => pick([-(2 ** 31), 2 ** 31 - 1, int(2 ** 32) - 2 ** 31]),
    UINT64: () => pick([0n, 2n ** 64n - 1n, randomBigInt(64n)]),
    INT64: () => BigInt.asIntN(64, pick([0n, 2n ** 63n, 2n ** 63n - 1n, randomBigInt(64n)])),
    FP16: () => pick([0x7e00, 0x7c00, 0xfc00, 0x8000, 0x0001, int(0x7c00), 0x8000 | int(0x7c00)]),
    FP32: () => pick([NaN, Infinity, -Infinity, -0, Math.fround((random() - 0.5) * 2 ** int(200))]),
    FP64: () => pick([NaN, -Infinity, -0, 5e-324, Number.MAX_VALUE, (random() - 0.5) * 2 ** int(2000)]),
    BYTES: () => pick(texts),
  };
  const arrays = {
    BOOL: Uint8Array,
    UINT8: Uint8Array,
    UINT16: Uint16Array,
    UINT32: Uint32Array,
    UINT64: BigUint64Array,
    INT8: Int8Array,
    INT16: Int16Array,
    INT32: Int32Array,
    INT64: BigInt64Array,
    FP16: Uint16Array,
    FP32: Float32Array,
    FP64: Float64Array,
  };
  const randomTensor = (datatype: OipDatatype, jsonSafe: boolean): HostTensor => {
    const shape = Array.from({ length: int(4) }, () => int(4));
    const values = Array.from({ length: elementCount(shape) }, samples[datatype]);
    if (datatype === 'BYTES') return { datatype, shape, data: values as string[] };
    // JSON carries 64-bit integers as numbers, exact only up to 2^53.
    const safe = (v: bigint) => (datatype === 'INT64' ? BigInt.asIntN(53, v) : BigInt.asUintN(53, v));
    const fit = jsonSafe && typeof values[0] === 'bigint' ? values.map((v) => safe(v as bigint)) : values;
    return { datatype, shape, data: (arrays[datatype] as { from(v: unknown[]): TensorData }).from(fit) };
  };

  for (const datatype of OIP_DATATYPES) {
    it(`${datatype}: decodeBinaryTensor(encodeBinaryData(t)) equals t`, () => {
      for (let n = 0; n < 50; n++) {
        const t = randomTensor(datatype, false);
        assert.deepEqual(plainTensor(decodeBinaryTensor(X, datatype, t.shape, encodeBinaryData(t))), plainTensor(t));
      }
    });
    it(`${datatype}: decodeJsonTensor(encodeJsonData(t)) equals t`, () => {
      for (let n = 0; n < 50; n++) {
        const t = randomTensor(datatype, true);
        assert.deepEqual(plainTensor(decodeJsonTensor(X, datatype, t.shape, encodeJsonData(t))), plainTensor(t));
      }
    });
  }
});

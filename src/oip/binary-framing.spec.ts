import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../common/errors/error-code.js';
import { joinInferResponse, MISSING_HEADER_LENGTH, splitInferRequest, takeBinaryInputs } from './binary-framing.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const invalid = (message: string) => ({ code: ErrorCode.ValidationFailed, message });

describe('binary extension framing', () => {
  const body = (header: string, bytes = '') => Buffer.concat([Buffer.from(header), hex(bytes)]);

  it('splits the header from the binary data at Inference-Header-Content-Length', () => {
    const { header, binary } = splitInferRequest(body('{"a":1}', '010203'), 7);
    assert.deepEqual(header, { a: 1 });
    assert.deepEqual([...binary], [1, 2, 3]);
  });

  it('reads the whole body as the header without a length', () => {
    const { header, binary } = splitInferRequest(body('{"inputs":[]}'), undefined);
    assert.deepEqual(header, { inputs: [] });
    assert.equal(binary.length, 0);
    assert.deepEqual(splitInferRequest(body('{"constructor":1}'), undefined).header, { constructor: 1 });
  });

  const bad: Array<[Buffer, number | undefined, string]> = [
    [body('{"a":1}', '00'), 20, 'Inference-Header-Content-Length (20) exceeds the body (8 bytes)'],
    [body('{}'), -1, 'Inference-Header-Content-Length must be a non-negative integer, got -1'],
    [body('{}'), 1.5, 'Inference-Header-Content-Length must be a non-negative integer, got 1.5'],
    [body('{"a":', '00'), 5, 'Inference header is not valid JSON'],
    [body('{"a":1}'), 0, 'Inference header is not valid JSON'],
    [body('{"a":"', 'ff227d'), undefined, MISSING_HEADER_LENGTH],
    [body('{"inputs":[{"name":"x","parameters":{"binary_data_size":4}}]}', '0000803f'), undefined, MISSING_HEADER_LENGTH],
    [body('[1]'), undefined, 'Inference header must be a JSON object'],
    [body('{"__proto__":{"x":1}}'), undefined, 'Inference header has a forbidden "__proto__" or "constructor.prototype" key'],
    [body('{"\\u005f_proto__":1}'), undefined, 'Inference header has a forbidden "__proto__" or "constructor.prototype" key'],
    [
      body('{"a":{"constructor":{"prototype":{}}}}'),
      undefined,
      'Inference header has a forbidden "__proto__" or "constructor.prototype" key',
    ],
  ];
  for (const [buffer, length, message] of bad) {
    it(`splitInferRequest rejects: ${message.slice(0, 60)}`, () =>
      assert.throws(() => splitInferRequest(buffer, length), invalid(message)));
  }

  type Inputs = Parameters<typeof takeBinaryInputs>[0];
  const inputs: Inputs = [
    { name: 'a', parameters: { binary_data_size: 2 } },
    { name: 'b' },
    { name: 'c', parameters: { binary_data_size: 0, other: true } },
    { name: 'd', parameters: { binary_data_size: 3 } },
  ];

  it('hands each binary input its bytes in input order', () => {
    const taken = takeBinaryInputs(inputs, hex('0102 030405'));
    assert.deepEqual(
      [...taken].map(([name, bytes]) => [name, bytes.toString('hex')]),
      [
        ['a', '0102'],
        ['c', ''],
        ['d', '030405'],
      ],
    );
  });

  const badInputs: Array<[Inputs, string, string]> = [
    [inputs, '01020304', 'input "d": binary_data_size is 3 bytes, but only 2 bytes of binary data are left'],
    [inputs, '01020304050607', "binary data has 2 bytes left over: the inputs' binary_data_size add up to 5"],
    [[], '00', "binary data has 1 bytes left over: the inputs' binary_data_size add up to 0"],
    [
      [{ name: 'a', parameters: { binary_data_size: '2' } }],
      '0000',
      'input "a": parameters.binary_data_size must be a non-negative integer, got "2"',
    ],
    [
      [{ name: 'a', parameters: { binary_data_size: -1 } }],
      '',
      'input "a": parameters.binary_data_size must be a non-negative integer, got -1',
    ],
    [[inputs[0]!, inputs[0]!], '00000000', 'input "a" has binary data twice'],
  ];
  for (const [list, bytes, message] of badInputs) {
    it(`takeBinaryInputs rejects: ${message.slice(0, 60)}`, () =>
      assert.throws(() => takeBinaryInputs(list, hex(bytes)), invalid(message)));
  }

  it('joins a UTF-8 header and the chunks, and splitInferRequest takes them apart again', () => {
    const { body: joined, headerLength } = joinInferResponse({ a: 'é' }, [Uint8Array.of(1, 2), Uint8Array.of(3)]);
    assert.equal(headerLength, 10);
    assert.equal(joined.toString('hex'), Buffer.from('{"a":"é"}').toString('hex') + '010203');
    const { header, binary } = splitInferRequest(joined, headerLength);
    assert.deepEqual(header, { a: 'é' });
    assert.deepEqual([...binary], [1, 2, 3]);
  });
});

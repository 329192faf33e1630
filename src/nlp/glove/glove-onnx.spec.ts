import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { gloveOnnxModel } from './glove-onnx.js';

// Rows: [PAD], [UNK] (non-zero here, to show they are left out of the mean), then three words.
const TABLE = Float32Array.of(0, 0, 0, 9, 9, 9, 1, 2, 3, 4, 5, 6, -2, 0.5, 8);

describe('gloveOnnxModel', () => {
  let session: ort.InferenceSession;
  before(async () => {
    session = await ort.InferenceSession.create(gloveOnnxModel({ table: TABLE, dimensions: 3 }));
  });
  after(async () => session.release());

  async function embed(ids: number[][], mask: number[][]): Promise<{ hidden: number[]; sentence: number[][] }> {
    const shape = [ids.length, ids[0]!.length];
    const out = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat(), BigInt), shape),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask.flat(), BigInt), shape),
    });
    const sentence = Array.from(out.sentence_embedding!.data as Float32Array);
    assert.deepEqual(out.last_hidden_state!.dims, [...shape, 3]);
    assert.deepEqual(out.sentence_embedding!.dims, [ids.length, 3]);
    return {
      hidden: Array.from(out.last_hidden_state!.data as Float32Array),
      sentence: ids.map((_, b) => sentence.slice(b * 3, b * 3 + 3)),
    };
  }

  const cases: Array<{ name: string; ids: number[][]; mask: number[][]; expected: number[][] }> = [
    { name: 'one word', ids: [[2]], mask: [[1]], expected: [[1, 2, 3]] },
    { name: 'mean of words', ids: [[2, 3, 4]], mask: [[1, 1, 1]], expected: [[1, 2.5, 17 / 3]] },
    { name: '[UNK] left out', ids: [[2, 1, 3]], mask: [[1, 1, 1]], expected: [[2.5, 3.5, 4.5]] },
    { name: '[PAD] and masked tokens left out', ids: [[3, 4, 0]], mask: [[1, 0, 1]], expected: [[4, 5, 6]] },
    { name: 'no known word gives zeros', ids: [[1, 1, 0]], mask: [[1, 1, 1]], expected: [[0, 0, 0]] },
    { name: 'all masked gives zeros', ids: [[2, 3]], mask: [[0, 0]], expected: [[0, 0, 0]] },
    {
      name: 'rows of a padded batch are independent',
      ids: [
        [2, 3],
        [4, 0],
      ],
      mask: [
        [1, 1],
        [1, 0],
      ],
      expected: [
        [2.5, 3.5, 4.5],
        [-2, 0.5, 8],
      ],
    },
  ];
  for (const { name, ids, mask, expected } of cases) {
    it(name, async () => {
      const { sentence } = await embed(ids, mask);
      sentence.forEach((row, b) =>
        row.forEach((v, d) =>
          assert.ok(Math.abs(v - expected[b]![d]!) < 1e-6, `${name}: [${b}][${d}] = ${v}, expected ${expected[b]![d]}`),
        ),
      );
    });
  }

  it('last_hidden_state is the table row of every token, masked or not', async () => {
    const { hidden } = await embed([[4, 1, 0, 2]], [[1, 1, 0, 0]]);
    assert.deepEqual(hidden, [-2, 0.5, 8, 9, 9, 9, 0, 0, 0, 1, 2, 3]);
  });

  it('accepts an empty sequence', async () => {
    const out = await session.run({
      input_ids: new ort.Tensor('int64', new BigInt64Array(0), [2, 0]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(0), [2, 0]),
    });
    assert.deepEqual(Array.from(out.sentence_embedding!.data as Float32Array), [0, 0, 0, 0, 0, 0]);
  });

  it('rejects a table that is not whole rows', () => {
    assert.throws(() => gloveOnnxModel({ table: new Float32Array(7), dimensions: 3 }), /not rows of 3/);
  });
});

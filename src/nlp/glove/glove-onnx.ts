import { attr, encodeModel, tensor } from '../../onnx/onnx-builder.js';
import { UNK_ID } from './glove-tokenizer.js';

export interface GloveOnnxOptions {
  /** `vocabSize` rows of `dimensions` floats, rows [PAD] and [UNK] included. */
  table: Float32Array;
  dimensions: number;
  metadata?: Record<string, string>;
}

/**
 * A static-embedding encoder:
 *   last_hidden_state[b, t] = table[input_ids[b, t]]   (rows [PAD] and [UNK] are zeros)
 *   sentence_embedding[b]   = sum_t w[b, t] * last_hidden_state[b, t] / max(1, sum_t w[b, t]),
 *   w[b, t] = attention_mask[b, t] if input_ids[b, t] > [UNK] else 0.
 * Unknown words are left out of the mean rather than pulling it towards zero; a text with no known
 * word gets zeros (never NaN). The mean is not normalised: callers L2-normalise for cosine.
 */
export function gloveOnnxModel({ table, dimensions, metadata }: GloveOnnxOptions): Uint8Array {
  const vocabSize = table.length / dimensions;
  if (!Number.isInteger(vocabSize) || vocabSize <= UNK_ID)
    throw new RangeError(`table of ${table.length} floats is not rows of ${dimensions}`);
  return encodeModel({
    graphName: 'glove_static_embeddings',
    opset: 17,
    docString: 'Static word embeddings: a table lookup and a masked mean over known words.',
    metadata,
    inputs: [
      { name: 'input_ids', type: 'int64', dims: ['batch', 'sequence'] },
      { name: 'attention_mask', type: 'int64', dims: ['batch', 'sequence'] },
    ],
    outputs: [
      { name: 'last_hidden_state', type: 'float32', dims: ['batch', 'sequence', dimensions] },
      { name: 'sentence_embedding', type: 'float32', dims: ['batch', dimensions] },
    ],
    initializers: [
      tensor('embeddings', table, [vocabSize, dimensions]),
      tensor('unk_id', BigInt64Array.of(BigInt(UNK_ID)), []),
      tensor('axis_1', BigInt64Array.of(1n), [1]),
      tensor('one', Float32Array.of(1), []),
    ],
    nodes: [
      { op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['last_hidden_state'], attributes: { axis: attr.int(0) } },
      { op: 'Greater', inputs: ['input_ids', 'unk_id'], outputs: ['is_word'] },
      { op: 'Cast', inputs: ['is_word'], outputs: ['is_word_f'], attributes: { to: attr.int(1) } },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attributes: { to: attr.int(1) } },
      { op: 'Mul', inputs: ['is_word_f', 'mask_f'], outputs: ['weights'] },
      // [b, 1, t] x [b, t, d] -> [b, 1, d]: the weighted sum as one batched MatMul.
      { op: 'Unsqueeze', inputs: ['weights', 'axis_1'], outputs: ['weights_row'] },
      { op: 'MatMul', inputs: ['weights_row', 'last_hidden_state'], outputs: ['weighted_sum_row'] },
      { op: 'Squeeze', inputs: ['weighted_sum_row', 'axis_1'], outputs: ['weighted_sum'] },
      { op: 'ReduceSum', inputs: ['weights', 'axis_1'], outputs: ['count'], attributes: { keepdims: attr.int(1) } },
      { op: 'Max', inputs: ['count', 'one'], outputs: ['divisor'] },
      { op: 'Div', inputs: ['weighted_sum', 'divisor'], outputs: ['sentence_embedding'] },
    ],
  });
}

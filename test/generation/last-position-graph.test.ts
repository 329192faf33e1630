/**
 * The decoder graph rewritten to compute logits for the last position only: on the generated
 * Qwen2-style export (weights inline, and the same weights moved to external data as large
 * exports keep them), the rewritten graph's logits equal the exported graph's last-position
 * logits bit for bit, for a left-padded prefill and for the decode step after it; its
 * `step.{i}.key|value` outputs are bit for bit the column the step adds to `present.{i}.*`, its
 * `greedy_token` the first largest logit; and a
 * graph the rewrite is not known to be exact for is left alone.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { GREEDY_TOKEN, lastPositionGraph, lastPositionRewrite, stepKeyValueName } from '../../src/generation/last-position-graph.js';
import { argmax } from '../../src/generation/sampler.js';
import { type DecoderModel, writeDecoderModel } from '../support/decoder-model.js';
import { makeTempDir } from '../support/processes.js';

const { onnx } = onnxProto;

const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

/** Two left-padded prompts (5 and 3 tokens), then one decode step of both from the prefill's cache. */
interface Run {
  prefill: ort.Tensor;
  step: ort.Tensor;
  /** The decode step's outputs by name (present.*, and step.* where the graph has them). */
  outputs: Record<string, ort.Tensor>;
}

async function prefillAndStep(session: ort.InferenceSession, model: DecoderModel): Promise<Run> {
  const { layers, kvHeads, headDim } = model.dims;
  const ids = [11, 12, 13, 14, 15, 0, 0, 21, 22, 23];
  const mask = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1];
  const positions = [0, 1, 2, 3, 4, 1, 1, 0, 1, 2];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids, [2, 5]),
    attention_mask: int64(mask, [2, 5]),
    position_ids: int64(positions, [2, 5]),
  };
  for (let i = 0; i < layers; i++)
    for (const part of ['key', 'value'])
      feeds[`past_key_values.${i}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [2, kvHeads, 0, headDim]);
  const first = await session.run(feeds);
  const next: Record<string, ort.Tensor> = {
    input_ids: int64([31, 32], [2, 1]),
    attention_mask: int64([...mask.slice(0, 5), 1, ...mask.slice(5), 1], [2, 6]),
    position_ids: int64([5, 3], [2, 1]),
  };
  for (let i = 0; i < layers; i++)
    for (const part of ['key', 'value']) next[`past_key_values.${i}.${part}`] = first[`present.${i}.${part}`]!;
  const second = await session.run(next);
  return { prefill: first.logits!, step: second.logits!, outputs: second };
}

/** Row `position` of every batch row of [batch, positions, vocab] logits. */
function rowsAt(logits: ort.Tensor, position: number): Float32Array[] {
  const [batch, positions, vocab] = logits.dims as number[];
  const data = logits.data as Float32Array;
  return Array.from({ length: batch! }, (_, b) =>
    data.slice((b * positions! + position) * vocab!, (b * positions! + position + 1) * vocab!),
  );
}

describe('last-position decoder graph', () => {
  let dir: string;
  let model: DecoderModel;
  let reference: Run;

  before(async () => {
    dir = await makeTempDir('lathe-last-position-');
    model = await writeDecoderModel(join(dir, 'model'), 'tiny');
    const session = await ort.InferenceSession.create(join(model.dir, 'onnx/model.onnx'));
    reference = await prefillAndStep(session, model);
    await session.release();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function checkRewritten(path: string): Promise<void> {
    const session = await ort.InferenceSession.create(path);
    try {
      const rewritten = await prefillAndStep(session, model);
      assert.deepEqual(rewritten.prefill.dims, [2, 1, model.dims.vocab]);
      assert.deepEqual(reference.prefill.dims, [2, 5, model.dims.vocab]);
      // Exact: the same kernels on the same hidden state, only fewer rows.
      assert.deepEqual(rowsAt(rewritten.prefill, 0), rowsAt(reference.prefill, 4));
      assert.deepEqual(rewritten.step.dims, [2, 1, model.dims.vocab]);
      assert.deepEqual(rowsAt(rewritten.step, 0), rowsAt(reference.step, 0));
      checkStepColumns(rewritten);
      checkGreedy(rewritten);
    } finally {
      await session.release();
    }
  }

  /** Every step.{i}.key|value is [2, kvHeads, 1, headDim] and equals the last column of the exported graph's present.{i}.*. */
  function checkStepColumns(rewritten: Run): void {
    const { layers, kvHeads, headDim } = model.dims;
    for (let i = 0; i < layers; i++) {
      for (const part of ['key', 'value']) {
        const step = rewritten.outputs[stepKeyValueName(i, part as 'key' | 'value')];
        assert.ok(step, `step.${i}.${part} is an output`);
        assert.deepEqual(step.dims, [2, kvHeads, 1, headDim]);
        const present = reference.outputs[`present.${i}.${part}`]!;
        const columns = present.dims[2]!;
        const data = present.data as Float32Array;
        const last = Array.from({ length: 2 * kvHeads }, (_, run) =>
          Array.from(data.subarray((run * columns + columns - 1) * headDim, (run * columns + columns) * headDim)),
        ).flat();
        assert.deepEqual(Array.from(step.data as Float32Array), last, `step.${i}.${part}`);
      }
    }
  }

  /** greedy_token of the decode step is [2, 1] INT64, the first largest logit of each row (the sampler's greedy choice). */
  function checkGreedy(rewritten: Run): void {
    const greedy = rewritten.outputs[GREEDY_TOKEN];
    assert.ok(greedy, 'greedy_token is an output');
    assert.deepEqual(greedy.dims, [2, 1]);
    assert.deepEqual(
      Array.from(greedy.data as BigInt64Array, Number),
      rowsAt(reference.step, 0).map((row) => argmax(row)),
    );
  }

  it('gives the exported graph last-position logits, and is written once', async () => {
    const cache = join(dir, 'cache-inline');
    const path = await lastPositionGraph(join(model.dir, 'onnx/model.onnx'), cache);
    assert.ok(path?.startsWith(join(cache, 'generation-graphs')), `rewritten into the cache, got ${path}`);
    await checkRewritten(path!);
    const written = (await stat(path!)).mtimeMs;
    assert.equal(await lastPositionGraph(join(model.dir, 'onnx/model.onnx'), cache), path);
    assert.equal((await stat(path!)).mtimeMs, written, 'the second call reuses the cached graph');
  });

  it('keeps weights stored as external data where they are, linked beside the rewritten graph', async () => {
    const folder = join(dir, 'external');
    const decoded = onnx.ModelProto.decode(await readFile(join(model.dir, 'onnx/model.onnx')));
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const tensor of decoded.graph!.initializer!) {
      const raw = tensor.rawData!;
      if (raw.length < 1024) continue;
      tensor.externalData = [
        { key: 'location', value: 'model.onnx_data' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.length) },
      ];
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.rawData = new Uint8Array(0);
      chunks.push(raw);
      offset += raw.length;
    }
    assert.ok(chunks.length > 4, 'the weight matrices moved out of the graph');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'model.onnx_data'), Buffer.concat(chunks));
    await writeFile(join(folder, 'model.onnx'), onnx.ModelProto.encode(decoded).finish());

    const path = await lastPositionGraph(join(folder, 'model.onnx'), join(dir, 'cache-external'));
    assert.ok(path, 'the external-data graph is rewritten');
    assert.ok((await stat(path)).size < 64 * 1024, 'the rewritten graph holds no weights');
    await checkRewritten(path);
  });

  it('adds only the step columns to a graph whose logits it cannot place alone', async () => {
    const folder = join(dir, 'undeclared');
    const decoded = onnx.ModelProto.decode(await readFile(join(model.dir, 'onnx/model.onnx')));
    // Without a declared rank the head's input could be [batch * sequence, hidden]: not sliced.
    decoded.graph!.output!.find((o) => o.name === 'logits')!.type!.tensorType!.shape = null;
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'model.onnx'), onnx.ModelProto.encode(decoded).finish());
    const path = await lastPositionGraph(join(folder, 'model.onnx'), join(dir, 'cache-undeclared'));
    assert.ok(path, 'rewritten for its step columns');
    const session = await ort.InferenceSession.create(path);
    try {
      const rewritten = await prefillAndStep(session, model);
      assert.deepEqual(rewritten.prefill.dims, reference.prefill.dims, 'every position keeps its logits');
      assert.deepEqual(Array.from(rewritten.prefill.data as Float32Array), Array.from(reference.prefill.data as Float32Array));
      checkStepColumns(rewritten);
      checkGreedy(rewritten);
    } finally {
      await session.release();
    }
  });

  it('adds no ArgMax below opset 11 (negative axes) or where the graph already has its name', async () => {
    const outputsOf = async (edit: (decoded: InstanceType<typeof onnx.ModelProto>) => void) => {
      const decoded = onnx.ModelProto.decode(await readFile(join(model.dir, 'onnx/model.onnx')));
      edit(decoded);
      const rewrite = lastPositionRewrite(onnx.ModelProto.encode(decoded).finish());
      assert.ok(rewrite, 'rewritten');
      const rewritten = onnx.ModelProto.decode(Buffer.concat(rewrite.pieces));
      producers = rewritten.graph!.node!.filter((n) => n.output?.includes(GREEDY_TOKEN)).length;
      return rewritten.graph!.output!.map((o) => o.name);
    };
    let producers = 0;
    assert.ok((await outputsOf(() => {})).includes(GREEDY_TOKEN));
    const opset10 = await outputsOf((d) => {
      d.opsetImport!.find((o) => !o.domain)!.version = 10;
    });
    assert.ok(!opset10.includes(GREEDY_TOKEN) && opset10.includes(stepKeyValueName(0, 'key')), opset10.join());
    const named = await outputsOf((d) => {
      d.graph!.node!.push(onnx.NodeProto.create({ opType: 'Identity', input: ['logits'], output: [GREEDY_TOKEN] }));
    });
    assert.equal(named.filter((n) => n === GREEDY_TOKEN).length, 0, 'no output of the name the graph already uses');
    assert.equal(producers, 1, 'no second producer of it');
  });

  it('leaves a graph it can neither slice nor take step columns from', async () => {
    const folder = join(dir, 'neither');
    const decoded = onnx.ModelProto.decode(await readFile(join(model.dir, 'onnx/model.onnx')));
    decoded.graph!.output!.find((o) => o.name === 'logits')!.type!.tensorType!.shape = null;
    // present.0.key comes through an Identity, not straight from its Concat: no step columns for any layer.
    const concat = decoded.graph!.node!.find((n) => n.output?.[0] === 'present.0.key')!;
    concat.output = ['concat.0.key'];
    decoded.graph!.node!.push(onnx.NodeProto.create({ opType: 'Identity', input: ['concat.0.key'], output: ['present.0.key'] }));
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'model.onnx'), onnx.ModelProto.encode(decoded).finish());
    const cache = join(dir, 'cache-neither');
    assert.equal(await lastPositionGraph(join(folder, 'model.onnx'), cache), undefined);
    assert.equal(await lastPositionGraph(join(folder, 'model.onnx'), cache), undefined, 'the verdict is cached');
  });
});

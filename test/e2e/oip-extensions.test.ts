import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { startTestApp, type TestApp } from '../support/app.js';
import { makeModelRepository, OCR_ASSETS, random, randomFloats } from '../support/models.js';

/**
 * A client written from the KServe v2 REST spec and Triton's extension documents, with plain
 * fetch: classification, explicit model control, model configuration, metadata parameters and the
 * binary tensor data framing.
 */
describe('Open Inference Protocol: Triton extensions, as a spec-written client uses them', () => {
  let t: TestApp;
  let base: string;
  let modelsDir: string;
  const CLS_PATH = join(OCR_ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const raw = body === undefined || Buffer.isBuffer(body);
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(raw ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const clsInput = (rows: number, seed: number) => ({
    name: 'x',
    datatype: 'FP32',
    shape: [rows, 3, 48, 192],
    data: randomFloats(rows * 3 * 48 * 192, random(seed), 1),
  });

  before(async () => {
    modelsDir = await makeModelRepository(['paddleocr-cls', 'silero-vad']);
    t = await startTestApp({ LATHE_MODELS_DIR: modelsDir });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await t.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('names the extensions in the server metadata', async () => {
    const server = await call('GET', '/v2');
    assert.deepEqual(server.body.extensions, [
      'binary_tensor_data',
      'classification',
      'model_configuration',
      'model_repository',
      'statistics',
    ]);
  });

  it('classification: the top k of each row as "value:index:label" BYTES, values as Triton prints them', async () => {
    const input = clsInput(2, 11);
    const res = await call('POST', '/v2/models/paddleocr-cls/infer', {
      inputs: [{ ...input, data: Array.from(input.data) }],
      outputs: [{ name: 'softmax_0.tmp_0', parameters: { classification: 2 } }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const session = await ort.InferenceSession.create(CLS_PATH);
    const probs = (await session.run({ x: new ort.Tensor('float32', input.data, input.shape) }))['softmax_0.tmp_0']!.data as Float32Array;
    const labels = ['0', '180'];
    const expected = [0, 1].flatMap((row) => {
      const p = [probs[row * 2]!, probs[row * 2 + 1]!];
      const order = p[1]! > p[0]! ? [1, 0] : [0, 1];
      return order.map((i) => `${p[i]!.toFixed(6)}:${i}:${labels[i]}`);
    });
    assert.deepEqual(res.body.outputs, [{ name: 'softmax_0.tmp_0', datatype: 'BYTES', shape: [2, 2], data: expected }]);
    for (const s of expected) assert.match(s, /^[01]\.\d{6}:[01]:(0|180)$/);
  });

  it('classification without labels is "value:index"; a count that is not a positive integer, or a batch axis not first, is refused', async () => {
    const input = { name: 'input', datatype: 'FP32', shape: [1, 576], data: Array.from(randomFloats(576, random(3), 0.3)) };
    const state = { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: new Array(256).fill(0) };
    const sr = { name: 'sr', datatype: 'INT64', shape: [], data: [16000] };
    const plain = await call('POST', '/v2/models/silero-vad/infer', { inputs: [input, state, sr], outputs: [{ name: 'output' }] });
    const probability = (plain.body.outputs as Array<{ data: number[] }>)[0]!.data[0]!;
    const classified = await call('POST', '/v2/models/silero-vad/infer', {
      inputs: [input, state, sr],
      outputs: [{ name: 'output', parameters: { classification: 1 } }],
    });
    assert.deepEqual(classified.body.outputs, [
      { name: 'output', datatype: 'BYTES', shape: [1, 1], data: [`${Math.fround(probability).toFixed(6)}:0`] },
    ]);
    const zero = await call('POST', '/v2/models/silero-vad/infer', {
      inputs: [input, state, sr],
      outputs: [{ name: 'output', parameters: { classification: 0 } }],
    });
    assert.deepEqual(zero, {
      status: 400,
      body: { error: 'output "output": parameters.classification must be an integer from 1 to 1000, got 0' },
    });
    const axis = await call('POST', '/v2/models/silero-vad/infer', {
      inputs: [input, state, sr],
      outputs: [{ name: 'stateN', parameters: { classification: 1 } }],
    });
    assert.deepEqual(axis, { status: 400, body: { error: 'output "stateN" has its batch dimension at 1; classification needs it first' } });
  });

  it('explicit model control: an unloaded model answers infer with 503 until it is loaded again', async () => {
    const input = clsInput(1, 5);
    const infer = () => call('POST', '/v2/models/paddleocr-cls/infer', { inputs: [{ ...input, data: Array.from(input.data) }] });
    assert.equal((await infer()).status, 200);
    assert.deepEqual(await call('POST', '/v2/repository/models/paddleocr-cls/unload'), { status: 200, body: {} });
    const message =
      "Request for unknown model: 'paddleocr-cls' has no available versions (unloaded; load it with POST /v2/repository/models/paddleocr-cls/load)";
    assert.deepEqual(await infer(), { status: 503, body: { error: message } });
    const pinned = await call('POST', '/v2/models/paddleocr-cls/versions/1/infer', {
      inputs: [{ ...input, data: Array.from(input.data) }],
    });
    assert.equal(pinned.status, 503);
    assert.match(String(pinned.body.error), /^Request for unknown model: 'paddleocr-cls' version 1 is not at ready state/);
    // Still unloaded: the failed requests did not load it.
    assert.deepEqual(await call('GET', '/v2/models/paddleocr-cls/ready'), {
      status: 400,
      body: { error: 'model "paddleocr-cls" version 1 is not ready: unavailable (unloaded)' },
    });
    assert.deepEqual(await call('POST', '/v2/repository/models/paddleocr-cls/load'), { status: 200, body: {} });
    assert.equal((await infer()).status, 200);
  });

  it('model configuration: /config answers the manifest; load with parameters.config overrides it until the next load', async () => {
    const config = await call('GET', '/v2/models/paddleocr-cls/config');
    assert.equal(config.status, 200);
    assert.deepEqual(
      { name: config.body.name, version: config.body.version, instances: config.body.instances, labels: config.body.labels },
      { name: 'paddleocr-cls', version: '1', instances: 1, labels: ['0', '180'] },
    );
    assert.deepEqual(config.body.outputs, [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [2] }]);
    const override = JSON.stringify({ instances: 2, labels: ['upright', 'upside-down'] });
    // Requests sent while the model reloads finish on the old sessions or wait for the new ones: none fails.
    const during = clsInput(4, 9);
    const inflight = Array.from({ length: 6 }, () =>
      call('POST', '/v2/models/paddleocr-cls/infer', { inputs: [{ ...during, data: Array.from(during.data) }] }),
    );
    assert.deepEqual(await call('POST', '/v2/repository/models/paddleocr-cls/load', { parameters: { config: override } }), {
      status: 200,
      body: {},
    });
    assert.deepEqual(
      (await Promise.all(inflight)).map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );
    const overridden = await call('GET', '/v2/models/paddleocr-cls/versions/1/config');
    assert.deepEqual([overridden.body.instances, overridden.body.labels], [2, ['upright', 'upside-down']]);
    const metadata = await call('GET', '/v2/models/paddleocr-cls');
    assert.equal((metadata.body.parameters as { instances: number }).instances, 2);
    const input = clsInput(1, 8);
    const top = await call('POST', '/v2/models/paddleocr-cls/infer', {
      inputs: [{ ...input, data: Array.from(input.data) }],
      outputs: [{ name: 'softmax_0.tmp_0', parameters: { classification: 1 } }],
    });
    assert.match((top.body.outputs as Array<{ data: string[] }>)[0]!.data[0]!, /^[01]\.\d{6}:[01]:(upright|upside-down)$/);
    // A bad override changes nothing.
    const bad = await call('POST', '/v2/repository/models/paddleocr-cls/load', {
      parameters: { config: '{"source": {"file": "/etc/passwd"}}' },
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /^parameters\.config: "source" cannot be overridden/);
    const invalid = await call('POST', '/v2/repository/models/paddleocr-cls/load', { parameters: { config: { instances: 0 } } });
    assert.equal(invalid.status, 400);
    assert.match(String(invalid.body.error), /^parameters\.config for model "paddleocr-cls" version 1: instances: /);
    assert.equal((await call('GET', '/v2/models/paddleocr-cls/config')).body.instances, 2);
    // A load without config serves the manifest as written again.
    assert.equal((await call('POST', '/v2/repository/models/paddleocr-cls/load')).status, 200);
    const restored = await call('GET', '/v2/models/paddleocr-cls/config');
    assert.deepEqual([restored.body.instances, restored.body.labels], [1, ['0', '180']]);
    assert.deepEqual(await call('GET', '/v2/models/nope/config'), {
      status: 404,
      body: { error: 'model "nope" is not in the repository' },
    });
  });

  it('metadata parameters hold only strings, numbers and booleans', async () => {
    for (const model of ['paddleocr-cls', 'silero-vad']) {
      const parameters = (await call('GET', `/v2/models/${model}`)).body.parameters as Record<string, unknown>;
      for (const [key, value] of Object.entries(parameters))
        assert.ok(['string', 'number', 'boolean'].includes(typeof value), `${model} ${key}`);
    }
  });

  it('binary tensor data without Inference-Header-Content-Length: 400 naming the header', async () => {
    const input = clsInput(1, 2);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: input.shape, parameters: { binary_data_size: input.data.byteLength } }],
      }),
    );
    const body = Buffer.concat([header, Buffer.from(input.data.buffer)]);
    const octets = await call('POST', '/v2/models/paddleocr-cls/infer', body, { 'content-type': 'application/octet-stream' });
    assert.deepEqual(octets, {
      status: 400,
      body: {
        error:
          'Binary tensor data needs the Inference-Header-Content-Length header (the byte length of the JSON header before the tensor bytes); ' +
          'without it the whole body must be JSON, and it is not',
      },
    });
    const json = await call('POST', '/v2/models/paddleocr-cls/infer', body, { 'content-type': 'application/json' });
    assert.deepEqual(json, {
      status: 400,
      body: {
        error:
          'Body is not valid JSON: binary tensor data needs the Inference-Header-Content-Length header (the byte length of the JSON header before the tensor bytes)',
      },
    });
    const framed = await call('POST', '/v2/models/paddleocr-cls/infer', body, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    });
    assert.equal(framed.status, 200);
  });
});

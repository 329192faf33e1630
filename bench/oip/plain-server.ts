/**
 * Setup "plain": what one would write without Lathe. A Fastify route parses the request, calls
 * session.run on the main thread with no batching and answers JSON; `/floor/:model` does the same
 * without the model run (the HTTP floor). Runs as a child process
 * (forked by run.ts) so the load generator does not share its event loop.
 *
 * argv[2]: JSON array of { name, key, path }. Sends { port } over IPC once listening.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import ort from 'onnxruntime-node';
import { mobilenetFeeds, randomFloats, sileroFeeds, MOBILENET_IMAGE, type ModelKey } from './feeds.js';

export interface PlainModel {
  name: string;
  key: ModelKey;
  path: string;
}

const BODY_LIMIT = 64 * 1024 * 1024;

/** The FP32 inputs that follow a binary-tensor-data header, in order, copied to aligned arrays. */
function binaryInputs(body: Buffer, headerLength: number): { shapes: number[][]; data: Float32Array[] } {
  const header = JSON.parse(body.toString('utf8', 0, headerLength)) as {
    inputs: Array<{ shape: number[]; parameters?: { binary_data_size?: number } }>;
  };
  let offset = headerLength;
  const shapes: number[][] = [];
  const data: Float32Array[] = [];
  for (const input of header.inputs) {
    const size = input.parameters?.binary_data_size;
    if (size === undefined) continue;
    const out = new Float32Array(size / 4);
    Buffer.from(out.buffer).set(body.subarray(offset, offset + size));
    offset += size;
    shapes.push(input.shape);
    data.push(out);
  }
  if (offset !== body.length) throw new Error('bad binary body');
  return { shapes, data };
}

/** Silero: the same binary request Lathe takes (input, state; sr is 16 kHz); B from the input's shape. */
function sileroRequest(body: Buffer, headerLength: number): Record<string, ort.Tensor> {
  const { shapes, data } = binaryInputs(body, headerLength);
  return sileroFeeds(data[0]!, data[1]!, shapes[0]![0]!);
}

/** MobileNet: Triton's binary tensor data extension, one FP32 input after the JSON header. */
function mobilenetRequest(body: Buffer, headerLength: number): Record<string, ort.Tensor> {
  const header = JSON.parse(body.toString('utf8', 0, headerLength)) as { inputs: Array<{ shape: number[] }> };
  const shape = header.inputs[0]!.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  if (count % MOBILENET_IMAGE !== 0 || body.length !== headerLength + count * 4) throw new Error('bad binary body');
  // Copy: the Buffer's offset inside its ArrayBuffer need not be 4-byte aligned.
  const images = new Float32Array(count);
  Buffer.from(images.buffer).set(body.subarray(headerLength));
  return mobilenetFeeds(images, shape[0]!);
}

/** The model's feeds from a benchmark request (binary tensor data after a JSON header). */
function requestFeeds(key: ModelKey, request: FastifyRequest): Record<string, ort.Tensor> {
  const headerLength = Number(request.headers['inference-header-content-length']);
  const body = request.body as Buffer;
  return key === 'silero' ? sileroRequest(body, headerLength) : mobilenetRequest(body, headerLength);
}

async function main(): Promise<void> {
  const models = JSON.parse(process.argv[2] ?? '[]') as PlainModel[];
  const sessions = new Map<string, { key: ModelKey; session: ort.InferenceSession }>();
  // Default session options: what a user writing this route by hand gets.
  for (const model of models) sessions.set(model.name, { key: model.key, session: await ort.InferenceSession.create(model.path) });

  const app = Fastify({ bodyLimit: BODY_LIMIT });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  app.post<{ Params: { model: string } }>('/v2/models/:model/infer', async (request, reply) => {
    const entry = sessions.get(request.params.model);
    if (!entry) return reply.code(404).send({ error: 'unknown model' });
    const feeds = requestFeeds(entry.key, request);
    const result = await entry.session.run(feeds, ['output']);
    const output = result.output!;
    return {
      model_name: request.params.model,
      outputs: [{ name: 'output', datatype: 'FP32', shape: output.dims, data: Array.from(output.data as Float32Array) }],
    };
  });
  // The floor: the same request taken and decoded, and a reply of the same shape sent, with no
  // model run. What HTTP alone costs this machine per request (run.ts prints the bound it sets).
  app.post<{ Params: { model: string } }>('/floor/:model', async (request, reply) => {
    const entry = sessions.get(request.params.model);
    if (!entry) return reply.code(404).send({ error: 'unknown model' });
    const feeds = requestFeeds(entry.key, request);
    const rows = feeds.input!.dims[0]!;
    const values = randomFloats(rows * (entry.key === 'silero' ? 1 : 1000), 1, rows);
    const shape = [rows, values.length / rows];
    // The format each benchmark request asks Lathe for: JSON for Silero, binary tensor data for MobileNet.
    if (entry.key === 'silero')
      return { model_name: request.params.model, outputs: [{ name: 'output', datatype: 'FP32', shape, data: Array.from(values) }] };
    const header = Buffer.from(
      JSON.stringify({
        model_name: request.params.model,
        outputs: [{ name: 'output', datatype: 'FP32', shape, parameters: { binary_data_size: values.byteLength } }],
      }),
    );
    return reply
      .header('inference-header-content-length', String(header.length))
      .type('application/octet-stream')
      .send(Buffer.concat([header, Buffer.from(values.buffer)]));
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ port: Number(new URL(address).port) });
  process.once('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`plain-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

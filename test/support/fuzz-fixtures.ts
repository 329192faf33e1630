/** The app and the resources the fuzz suite aims at: API keys, models, a dataset, a finished job, media. */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import sharp from 'sharp';
import { hashApiKey } from '../../src/config/api-keys.js';
import { pino } from 'pino';
import { createApp } from '../../src/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';
import type { TestApp } from './app.js';
import { createTestDatabase } from './database.js';
import { jsonl, topicExamples } from './fine-tuning.js';
import type { FuzzContext } from './fuzz-values.js';
import { NER_LABELS, SENTIMENT_LABELS, writeBertFixtures } from './hf-fixtures.js';
import { whisperManifest, writeWhisperFixture } from './hf-whisper-fixture.js';
import { HAVE_SHARED_MODELS, pngClaiming, SHARED_MODELS, truncatedJpeg } from './media.js';
import { makeModelRepository, writeManifest } from './models.js';
import { makeTempDir, ROOT, waitFor } from './processes.js';
import { wavFile } from './speech-audio.js';

export const KEYS = { admin: 'fuzz-admin-key', infer: 'fuzz-infer-key', train: 'fuzz-train-key' };
const API_KEYS = `admin:${hashApiKey(KEYS.admin)}:admin,infer:${hashApiKey(KEYS.infer)}:infer,train:${hashApiKey(KEYS.train)}:manage+train`;

/** Inference requests that real models here take (glove-100d, keyword-spotting, paddleocr-cls): the fuzz varies them. */
const INFER_EXAMPLES = [
  {
    id: 'glove',
    inputs: [
      { name: 'input_ids', datatype: 'INT64', shape: [1, 3], data: [5, 17, 2] },
      { name: 'attention_mask', datatype: 'INT64', shape: [1, 3], data: [1, 1, 1] },
    ],
  },
  { inputs: [{ name: 'input.1', datatype: 'FP32', shape: [1, 1, 49, 10], data: Array.from({ length: 490 }, (_, i) => (i % 13) / 13) }] },
  {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: new Array(3 * 48 * 192).fill(0.5) }],
    outputs: [{ name: 'softmax_0.tmp_0' }],
  },
];

export interface FuzzFixtures {
  t: TestApp;
  ctx: FuzzContext;
  /** What the server logged at level error, by request id: the cause behind a 500. */
  serverErrors: Map<string, string>;
  close(): Promise<void>;
}

/**
 * The real app as test/support/app.ts builds it (same createApp, fresh migrated database), logging only
 * errors, each filed under its request id (the error filter logs through the request's logger, which binds it).
 */
async function startApp(modelsDir: string): Promise<TestApp & { serverErrors: Map<string, string> }> {
  const env = {
    LATHE_API_KEYS: API_KEYS,
    LATHE_MODELS_DIR: modelsDir,
    LATHE_BODY_LIMIT_BYTES: String(512 * 1024),
    ...(HAVE_SHARED_MODELS ? { LATHE_MODEL_FILES_DIR: SHARED_MODELS } : {}),
  };
  const serverErrors = new Map<string, string>();
  const db = await createTestDatabase();
  const write = (line: string) => {
    const entry = JSON.parse(line) as { requestId?: string; msg?: string; stack?: string; err?: { message?: string } };
    // The error itself (the message names the URL, which the failure report shows anyway).
    const cause = entry.err?.message ?? entry.stack?.split('\n')[0] ?? entry.msg ?? '';
    if (entry.requestId) serverErrors.set(entry.requestId, cause);
  };
  const logger = pino({ level: 'error' }, { write });
  let app;
  try {
    app = await createApp(loadConfig({ LOG_LEVEL: 'error', DATABASE_URL: db.url, ...env }), { logger });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (err) {
    await app?.close();
    await db.drop();
    throw err;
  }
  return {
    app,
    db,
    serverErrors,
    server: app.getHttpServer(),
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

/** Every shipped model, plus generated BERT-layout text models so the text routes reach inference. */
async function modelRepository(root: string): Promise<string> {
  const shipped = await readdir(join(ROOT, 'models'));
  const dir = await makeModelRepository(shipped);
  const fx = await writeBertFixtures(join(root, 'bert'));
  const ids = { datatype: 'INT64', shape: [-1] } as const;
  const inputs = ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, ...ids }));
  const common = { inputs, maxBatchSize: 8, instances: 1 };
  await writeManifest(dir, 'sentiment', {
    ...common,
    task: 'text-classification',
    source: { huggingface: fx.classifier.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [SENTIMENT_LABELS.length] }],
  });
  await writeManifest(dir, 'ner', {
    ...common,
    task: 'token-classification',
    source: { huggingface: fx.tagger.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, NER_LABELS.length] }],
  });
  // A Whisper-layout model (served by Transformers.js), so transcriptions reach the decoder.
  await writeManifest(dir, 'whisper-fixture', whisperManifest(await writeWhisperFixture(join(root, 'whisper'))));
  return dir;
}

async function media(): Promise<FuzzContext['media']> {
  const png = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  const jpeg = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#37a' } })
    .jpeg()
    .toBuffer();
  const tone = new Float32Array(1600).map((_, i) => 0.3 * Math.sin(i / 5));
  const wav = Buffer.from(wavFile(tone));
  const wavLies = Buffer.from(wav);
  wavLies.writeUInt32LE(0x7fffffff, 40); // the data chunk claims 2 GB
  // Headers a WAV parser must not trust: zero or absurd channels, rate, bits, block size, chunk sizes.
  const patched = (at: number, value: number, bytes: 2 | 4) => {
    const b = Buffer.from(wav);
    if (bytes === 2) b.writeUInt16LE(value, at);
    else b.writeUInt32LE(value, at);
    return b;
  };
  const badHeaders = [
    patched(22, 0, 2),
    patched(22, 65535, 2),
    patched(24, 0, 4),
    patched(24, 1, 4),
    patched(24, 0xffffffff, 4),
    patched(34, 0, 2),
    patched(34, 7, 2),
    patched(34, 12, 2),
    patched(32, 0, 2),
    patched(20, 2, 2),
    patched(20, 0xfffe, 2),
    patched(16, 0xfffffff0, 4),
    patched(4, 0, 4),
  ];
  const variants = [
    wavFile(tone, { bits: 8 }),
    wavFile(tone, { bits: 24 }),
    wavFile(tone, { bits: 32 }),
    wavFile(tone, { bits: 64, float: true }),
    wavFile(tone, { float: true, bits: 32, channelGains: [1, -1] }),
    wavFile(tone, { rate: 8000 }),
    wavFile(tone, { rate: 1 }),
    wavFile(tone.subarray(0, 1)),
  ].map((w) => Buffer.from(w));
  const containers = [
    'ID3\u0003\u0000\u0000\u0000\u0000\u0000\u0000',
    'OggS\u0000\u0002',
    'fLaC\u0000\u0000\u0000\u0022',
    '\u00ff\u00fb\u0090\u0064',
  ].map((h) => Buffer.from(h + 'x'.repeat(64), 'latin1'));
  return {
    images: [png, jpeg, await truncatedJpeg(), pngClaiming(100_000, 100_000), pngClaiming(1, 1_000_000), png.subarray(0, 30)],
    audio: [
      wav,
      wav,
      wav,
      wavLies,
      wav.subarray(0, 44),
      wav.subarray(0, 20),
      Buffer.from(wavFile(new Float32Array(0))),
      ...variants,
      ...badHeaders,
      ...containers,
    ],
    datasets: [
      jsonl(topicExamples(3)),
      jsonl(['{"text": "a"}', 'not json', '{"label": 1}']),
      Buffer.from('\u0000\u0001binary'),
      Buffer.alloc(0),
    ],
    junk: [
      Buffer.alloc(0),
      Buffer.from('hello, not media\n'),
      Buffer.from([0xff, 0xd8, 0xff, 0x00]),
      Buffer.from('RIFF\u0000\u0000\u0000\u0000WAVE'),
      Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    ],
  };
}

export async function startFuzzFixtures(): Promise<FuzzFixtures> {
  const root = await makeTempDir('lathe-fuzz-');
  let modelsDir: string | undefined;
  let t: (TestApp & { serverErrors: Map<string, string> }) | undefined;
  const close = async () => {
    await t?.close();
    await rm(root, { recursive: true, force: true });
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  };
  try {
    modelsDir = await modelRepository(root);
    t = await startApp(modelsDir);
    return { t, ctx: await fixtureContext(t), serverErrors: t.serverErrors, close };
  } catch (err) {
    // Nothing is left behind when the fixtures cannot be made.
    await close();
    throw err;
  }
}

/** A dataset, a fine-tuning job run to its end (with its artifacts), and every value the generators draw from. */
async function fixtureContext(t: TestApp): Promise<FuzzContext> {
  const auth = `Bearer ${KEYS.admin}`;
  const upload = await request(t.server)
    .post('/v1/files')
    .set('authorization', auth)
    .field('purpose', 'fine-tune')
    .attach('file', jsonl(topicExamples(4)), { filename: 'topics.jsonl', contentType: 'application/jsonl' });
  if (upload.status !== 200) throw new Error(`fixture upload: ${upload.status} ${upload.text}`);
  const fileId = upload.body.id as string;
  const created = await request(t.server)
    .post('/v1/fine_tuning/jobs')
    .set('authorization', auth)
    .send({ model: 'glove-100d', training_file: fileId, hyperparameters: { n_epochs: 2 }, seed: 1 });
  if (created.status !== 200) throw new Error(`fixture job: ${created.status} ${created.text}`);
  const jobId = created.body.id as string;
  // A finished job: its event stream ends, so `?stream=true` answers and closes.
  const job = await finishedJob(t, jobId, auth);
  const checkpoints = await request(t.server).get(`/v1/fine_tuning/jobs/${jobId}/checkpoints`).set('authorization', auth);
  const artifacts = [
    job.head_artifact_id,
    ...((checkpoints.body.data ?? []) as Array<{ artifact_id: string }>).map((c) => c.artifact_id),
  ].filter((a): a is string => typeof a === 'string');
  const models = [
    'glove-100d',
    'math-symbols',
    'mobilenetv2',
    'paddleocr-rec',
    'paddleocr-det',
    'paddleocr-cls',
    'silero-vad',
    'keyword-spotting',
    'sentiment',
    'ner',
    'whisper-fixture',
  ];
  if (typeof job.fine_tuned_model === 'string') models.push(job.fine_tuned_model);
  return {
    keys: KEYS,
    names: {
      model: models,
      id: [fileId, jobId, ...artifacts],
      version: ['1', '2', '0'],
      training_file: [fileId],
      validation_file: [fileId],
      after: [fileId, jobId],
      limit: ['1', '2', '100'],
      order: ['asc', 'desc'],
      purpose: ['fine-tune'],
      stream: ['true', 'false'],
      name: ['x', 'input', 'state', 'sr', 'input_ids', 'attention_mask', 'input.1'],
      datatype: ['FP32', 'INT64', 'INT32', 'FP16', 'BF16', 'BOOL', 'BYTES', 'UINT8', 'FP64', 'junk'],
    },
    media: await media(),
    examples: Object.fromEntries(
      ['POST /v2/models/{model}/infer', 'POST /v2/models/{model}/versions/{version}/infer'].map((key) => [key, INFER_EXAMPLES]),
    ),
  };
}

/** Polls the job (with the admin key) until it ends. */
function finishedJob(t: TestApp, id: string, auth: string): Promise<{ head_artifact_id: string | null; fine_tuned_model: string | null }> {
  return waitFor(
    async () => {
      const res = await request(t.server).get(`/v1/fine_tuning/jobs/${id}`).set('authorization', auth);
      return ['succeeded', 'failed', 'cancelled'].includes(res.body.status) ? res.body : undefined;
    },
    120_000,
    `fixture job ${id} to finish`,
  );
}

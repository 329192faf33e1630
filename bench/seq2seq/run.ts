/**
 * Translation benchmark on the generated bench-size Marian-layout translator
 * (`test/support/seq2seq-fixture.ts`, size "bench": vocabulary 1083, three 2048-wide layers over
 * every decoder token, about a Marian decoder's 15M multiply-adds per token, so model compute
 * dominates): sentences per second through
 * `POST /v1/text/translation` (a Lathe child process, as `oip/` starts it) at concurrency 1 and 16,
 * against Transformers.js' own `pipeline('translation')` on the same folder in this process, one
 * sentence at a time (greedy, as both run). Every answer must equal the translation known by
 * construction. Target: Lathe at concurrency 16 >= 3x the pipeline.
 *
 * Usage (after `npx tsc -p tsconfig.json`): node dist/bench/seq2seq/run.js [--words 24] [--sentences 16]
 * Prints a table and the ratios with PASS/FAIL, and always exits 0.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, pipeline } from '@huggingface/transformers';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { random, writeManifest } from '../../test/support/models.js';
import { seq2seqManifest, writeSeq2SeqFixture } from '../../test/support/seq2seq-fixture.js';
import { type RunningServer, startLathe } from '../oip/servers.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();
env.allowRemoteModels = false;
env.allowLocalModels = true;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i > 0 ? Math.floor(Number(process.argv[i + 1])) : fallback;
  return Number.isFinite(value) && value >= 1 ? value : fallback;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = 'bench-translator';
const WORDS = option('words', 24);
const SENTENCES = option('sentences', 16);
const THREADS = availableParallelism();
const TARGET_C16 = 3;
const REQUESTS_PER_CLIENT_C16 = 4;

type Pipe = (text: string) => Promise<Array<{ translation_text: string }>>;

function post(port: number, agent: http.Agent, text: string): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ model: MODEL, inputs: text });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/text/translation',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `count` requests over `concurrency` clients back to back; every answer checked. */
async function lathe(port: number, sentences: string[], expected: (s: string) => string, concurrency: number, count: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const text = sentences[next++ % sentences.length]!;
        const res = await post(port, agent, text);
        const want = JSON.stringify([{ translation_text: expected(text) }]);
        if (res.status !== 200 || res.body !== want) errors.push(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { sentencesPerSecond: count / seconds, seconds, errors };
}

async function main(): Promise<void> {
  const temp = await mkdtemp(join(tmpdir(), 'lathe-bench-seq2seq-'));
  let server: RunningServer | undefined;
  try {
    const fixture = await writeSeq2SeqFixture(join(temp, 'translator'), 'marian', 'bench');
    const rand = random(5);
    const sentences = Array.from({ length: SENTENCES }, () =>
      Array.from({ length: WORDS }, () => fixture.words[Math.floor(rand() * fixture.words.length)]!).join(' '),
    );
    console.log(
      `bench/seq2seq: ${SENTENCES} sentences of ${WORDS} words (${WORDS + 1} source and target tokens each), vocabulary ${Object.keys(fixture.vocab).length}; ` +
        `${THREADS} intra-op threads in Lathe's session and the pipeline's; load average ${loadavg()[0]!.toFixed(2)}\n`,
    );

    // The reference first, while no Lathe runs.
    const translate = (await pipeline('translation', fixture.dir, {
      dtype: 'fp32',
      session_options: { intraOpNumThreads: THREADS },
    } as never)) as unknown as Pipe;
    await translate(sentences[0]!); // warm-up
    const t0 = performance.now();
    const referenceErrors: string[] = [];
    for (const text of sentences) {
      const [out] = await translate(text);
      if (out?.translation_text !== fixture.expected(text)) referenceErrors.push(`pipeline: ${JSON.stringify(out)}`);
    }
    const referenceSeconds = (performance.now() - t0) / 1000;
    const reference = SENTENCES / referenceSeconds;
    await (translate as unknown as { dispose(): Promise<void> }).dispose();

    const models = join(temp, 'models');
    await writeManifest(models, MODEL, { ...seq2seqManifest(fixture, { maxSequences: 32, queue: 64 }), intraOpThreads: THREADS });
    server = await startLathe(ROOT, [], { LATHE_MODELS_DIR: models, LATHE_MODELS_PRELOAD: '*' });
    await lathe(server.port, sentences, fixture.expected, 2, 4); // warm-up
    const c1 = await lathe(server.port, sentences, fixture.expected, 1, SENTENCES);
    const c16 = await lathe(server.port, sentences, fixture.expected, 16, 16 * REQUESTS_PER_CLIENT_C16);

    const row = (name: string, rate: number, seconds: number, n: number) =>
      console.log(`${name.padEnd(44)} ${rate.toFixed(2).padStart(8)} sentences/s  (${n} in ${seconds.toFixed(2)} s)`);
    row('Transformers.js pipeline, one at a time', reference, referenceSeconds, SENTENCES);
    row('Lathe POST /v1/text/translation, conc. 1', c1.sentencesPerSecond, c1.seconds, SENTENCES);
    row('Lathe POST /v1/text/translation, conc. 16', c16.sentencesPerSecond, c16.seconds, 16 * REQUESTS_PER_CLIENT_C16);
    const ratio16 = c16.sentencesPerSecond / reference;
    console.log(
      `\nconcurrency 16 / pipeline: ${ratio16.toFixed(2)}x (target >= ${TARGET_C16}x): ${ratio16 >= TARGET_C16 ? 'PASS' : 'FAIL'}`,
    );
    console.log(`concurrency 1 / pipeline: ${(c1.sentencesPerSecond / reference).toFixed(2)}x`);
    const errors = [...referenceErrors, ...c1.errors, ...c16.errors];
    console.log(
      errors.length === 0
        ? 'every answer equals the translation known by construction'
        : `ERRORS (${errors.length}): ${errors.slice(0, 3).join('; ')}`,
    );
    console.log(`load average at the end: ${loadavg()[0]!.toFixed(2)}`);
  } finally {
    const problems = (await server?.stop()) ?? [];
    for (const p of problems) console.log(`server: ${p}`);
    await rm(temp, { recursive: true, force: true });
  }
}

await main();

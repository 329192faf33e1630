/**
 * Speech synthesis benchmark: the real-time factor (seconds of audio per wall second) of
 * `POST /v1/audio/speech` (a Lathe child process, as `oip/` starts it) against Transformers.js'
 * `text-to-speech` pipeline in this process on the same model folder, called the way a user writes
 * it (the whole text in one call, one request at a time), with the thread count Lathe's worker has.
 *
 * The model is the generated VITS-layout synthesizer (`test/support/vits-fixture.ts`) with
 * `--layers` vocoder-sized MLPs over 25 ms frames (default 20: about 66 MB of weights and 0.65 G
 * multiply-adds per second of audio), so that model compute dominates as it does for a real
 * MMS-TTS; the audio is the plain fixture's. Lathe answers `pcm` (ffmpeg resamples to 24 kHz), and
 * every answer is checked: its length must be the audio the text asks for.
 *
 * Usage (after `npx tsc -p tsconfig.json`):
 *   node dist/bench/speech/synthesis.js [--requests 8] [--layers 20] [--concurrency 1]
 * Prints the medians, the ratio against its target (>= 0.9) with PASS/FAIL, and always exits 0.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env as transformersEnv, pipeline } from '@huggingface/transformers';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { OUTPUT_RATE } from '../../src/speech/audio-encode.js';
import { writeManifest } from '../../test/support/models.js';
import { SEGMENT, VITS_RATE, vitsManifest, writeVitsFixture } from '../../test/support/vits-fixture.js';
import { startLathe } from '../oip/servers.js';

disableOnnxRuntimeTelemetry();

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i > 0 ? Math.floor(Number(process.argv[i + 1])) : fallback;
  return Number.isFinite(value) && value >= 1 ? value : fallback;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REQUESTS = option('requests', 8);
const LAYERS = option('layers', 20);
const CONCURRENCY = option('concurrency', 1);
const THREADS = availableParallelism();
const TARGET = 0.9;
const TEXT =
  'Lathe serves models over HTTP and fine tunes their heads. It speaks the protocols its users already have clients for. ' +
  'This paragraph is long enough that the model does most of the work.';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One `pcm` synthesis over HTTP: wall seconds and seconds of audio received. */
function speak(port: number, agent: http.Agent): Promise<{ seconds: number; audioSeconds: number }> {
  const body = JSON.stringify({ model: 'bench-tts', input: TEXT, voice: 'default', response_format: 'pcm' });
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/audio/speech', method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
          resolve({ seconds: (performance.now() - started) / 1000, audioSeconds: bytes / 2 / OUTPUT_RATE });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const temp = await mkdtemp(join(tmpdir(), 'lathe-bench-tts-'));
  const load = [loadavg()[0]!];
  try {
    const fx = await writeVitsFixture(join(temp, 'vits'), { workLayers: LAYERS });
    // In process, as a user writes it.
    transformersEnv.allowRemoteModels = false;
    const pipe = await pipeline('text-to-speech', fx.dir, {
      dtype: 'fp32',
      session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1 },
    });
    const inProcess: number[] = [];
    let inProcessAudio = 0;
    for (let r = 0; r < REQUESTS + 1; r++) {
      const started = performance.now();
      const out = (await pipe(TEXT)) as { audio: Float32Array; sampling_rate: number };
      const seconds = (performance.now() - started) / 1000;
      inProcessAudio = out.audio.length / out.sampling_rate;
      if (r > 0) inProcess.push(inProcessAudio / seconds); // the first call warms up
    }
    await pipe.dispose();

    const models = join(temp, 'models');
    await writeManifest(models, 'bench-tts', { ...vitsManifest(fx), intraOpThreads: THREADS });
    const lathe = await startLathe(ROOT, [], { LATHE_MODELS_DIR: models, LATHE_MODELS_PRELOAD: '*' });
    const overHttp: number[] = [];
    let httpAudio = 0;
    try {
      const agent = new http.Agent({ keepAlive: true });
      await speak(lathe.port, agent); // warm-up
      for (let sent = 0; sent < REQUESTS; sent += CONCURRENCY) {
        const started = performance.now();
        const answers = await Promise.all(Array.from({ length: CONCURRENCY }, () => speak(lathe.port, agent)));
        const seconds = (performance.now() - started) / 1000;
        httpAudio = answers[0]!.audioSeconds;
        overHttp.push(answers.reduce((sum, a) => sum + a.audioSeconds, 0) / seconds);
      }
      agent.destroy();
    } finally {
      const problems = await lathe.stop();
      if (problems.length > 0) console.log(`Lathe: ${problems.join('; ')}`);
    }
    load.push(loadavg()[0]!);

    // The text is spoken sentence by sentence over HTTP: each sentence has its own leading and trailing blank.
    const tolerance = (4 * SEGMENT) / VITS_RATE;
    if (Math.abs(httpAudio - inProcessAudio) > tolerance)
      throw new Error(`audio lengths differ: ${httpAudio} s over HTTP, ${inProcessAudio} s in process`);
    const ratio = median(overHttp) / median(inProcess);
    console.log(
      `bench/speech/synthesis: ${TEXT.length} characters -> ${inProcessAudio.toFixed(1)} s of audio; ${LAYERS} vocoder layers; ` +
        `${THREADS} intra-op threads; ${REQUESTS} requests at concurrency ${CONCURRENCY}; load average ${load.map((l) => l.toFixed(1)).join(' -> ')}\n`,
    );
    console.log('| setup | real-time factor p50 (audio s / wall s) |');
    console.log('|---|---|');
    console.log(`| Transformers.js pipeline in process, one call at a time | ${median(inProcess).toFixed(1)} |`);
    console.log(`| Lathe POST /v1/audio/speech (pcm, 24 kHz), concurrency ${CONCURRENCY} | ${median(overHttp).toFixed(1)} |`);
    console.log(`\nLathe / in-process >= ${TARGET}: ${ratio.toFixed(2)}x ${ratio >= TARGET ? 'PASS' : 'FAIL'}`);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

await main();

/**
 * VAD benchmark (acceptance point 6 of the vision and speech issue): the real-time factor (audio
 * seconds per wall second) of Silero VAD over a 10-minute recording, through POST /v1/speech/vad
 * against the same decode + scan + segmentation done in-process by this script (the reference).
 *
 * Usage (after `npx tsc -p tsconfig.json`): node dist/bench/speech/run.js [--repeats 3]
 * Needs espeak-ng (the recording is synthesised speech with silences and noise at 10 dB SNR).
 * Prints PASS/FAIL and always exits 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { parseManifest } from '../../src/contracts/model-manifest.js';
import { resolveWeights } from '../../src/models/model-source.js';
import { runScan } from '../../src/runtime/scan-loop.js';
import { decodeAudio } from '../../src/speech/audio-decode.js';
import { speechSegments } from '../../src/speech/vad.js';
import { speechScene, wavFile } from '../../test/support/speech-audio.js';
import { startLathe } from '../oip/servers.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TARGET = 0.9;
const MINUTES = 10;
const repeats = (() => {
  const i = process.argv.indexOf('--repeats');
  return i > 0 ? Math.max(1, Number(process.argv[i + 1])) : 3;
})();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Ten minutes: a scene of sentences between silences of 0.5 to 3 s (10 dB SNR), repeated. */
async function recording(): Promise<{ wav: Uint8Array; seconds: number; utterances: number }> {
  const scene = await speechScene(
    [
      1,
      'the quick brown fox jumps over the lazy dog',
      0.5,
      'please send the invoice before friday',
      3,
      'lathe serves models over HTTP',
      1.5,
      'speech segments are found by the detector',
      2,
      'one two three four five six',
      1,
    ],
    { snrDb: 10, seed: 7 },
  );
  const total = MINUTES * 60 * scene.rate;
  const samples = new Float32Array(total);
  for (let at = 0; at < total; at += scene.samples.length) samples.set(scene.samples.subarray(0, total - at), at);
  const utterances = scene.truth.length * Math.ceil(total / scene.samples.length);
  return { wav: wavFile(samples, { rate: scene.rate }), seconds: total / scene.rate, utterances };
}

async function main(): Promise<void> {
  const { wav, seconds, utterances } = await recording();
  console.log(
    `bench/speech: Silero VAD over ${seconds.toFixed(1)} s of audio (about ${utterances} utterances, 10 dB SNR), 16 kHz WAV of ${wav.length} bytes; ${repeats} runs each\n`,
  );
  const manifest = parseManifest(JSON.parse(readFileSync(join(ROOT, 'models/silero-vad/1/model.json'), 'utf8')), 'silero-vad');
  const session = await ort.InferenceSession.create(resolveWeights(manifest, { versionDir: join(ROOT, 'models/silero-vad/1') }), {
    intraOpNumThreads: manifest.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const inProcess: number[] = [];
  let expected = 0;
  for (let r = 0; r < repeats + 1; r += 1) {
    const t0 = performance.now();
    const audio = await decodeAudio(wav, 16_000, { maxSeconds: 3600, maxBytes: 1 << 30 });
    const scan = await runScan(session, manifest.stream!, audio.samples);
    const segments = speechSegments(scan.values, { totalSamples: audio.samples.length });
    if (r > 0) inProcess.push(performance.now() - t0); // the first run warms up
    expected = segments.length;
  }
  await session.release();

  const lathe = await startLathe(ROOT, [], { LATHE_MODELS_DIR: join(ROOT, 'models'), LATHE_MODELS_PRELOAD: 'silero-vad' });
  const http: number[] = [];
  let got = 0;
  try {
    for (let r = 0; r < repeats + 1; r += 1) {
      const t0 = performance.now();
      const response = await fetch(`http://127.0.0.1:${lathe.port}/v1/speech/vad`, {
        method: 'POST',
        headers: { 'content-type': 'audio/wav' },
        body: wav,
      });
      const body = (await response.json()) as { segments?: unknown[] };
      if (r > 0) http.push(performance.now() - t0);
      if (response.status !== 200) throw new Error(`Lathe answered ${response.status}: ${JSON.stringify(body)}`);
      got = body.segments!.length;
    }
  } finally {
    for (const p of await lathe.stop()) console.log(`note: ${p}`);
  }
  const rtfIn = seconds / (median(inProcess) / 1000);
  const rtfHttp = seconds / (median(http) / 1000);
  console.log('| setup | median wall s | real-time factor (audio s per wall s) | segments |');
  console.log('|---|---|---|---|');
  console.log(`| in-process (decode + scan + segments) | ${(median(inProcess) / 1000).toFixed(2)} | ${rtfIn.toFixed(0)}x | ${expected} |`);
  console.log(`| Lathe POST /v1/speech/vad | ${(median(http) / 1000).toFixed(2)} | ${rtfHttp.toFixed(0)}x | ${got} |`);
  if (got !== expected) console.log(`WARNING: Lathe found ${got} segments, in-process ${expected}`);
  const ratio = rtfHttp / rtfIn;
  console.log(`\ntarget: Lathe >= ${TARGET}x the in-process real-time factor: ${ratio.toFixed(2)}x ${ratio >= TARGET ? 'PASS' : 'FAIL'}`);
}

await main();

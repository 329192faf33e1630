/**
 * Stored-content benchmark: what several concurrent downloads of one large stored value cost the
 * server, read in slices (LATHE_STORAGE_SLICE_BYTES, 1 MiB by default) against read whole (one
 * 64 MiB slice: what every download did before the bytes were streamed). It uploads one JSON Lines
 * file of `--mb` MB, downloads it `--concurrency` times at once through GET /v1/files/{id}/content
 * (artifacts stream the same way) while polling /health/live, and prints the server's peak RSS
 * growth (sampled from /proc), the slowest /health/live and the download rate.
 *
 * Usage (after `npx tsc -p tsconfig.json`): node dist/bench/storage/run.js [--mb 48] [--concurrency 8]
 * Prints PASS/FAIL against the targets and always exits 0.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { startLathe } from '../oip/servers.js';

disableOnnxRuntimeTelemetry();

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MB = 1024 * 1024;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Math.max(1, Number(process.argv[i + 1])) : fallback;
};
const sizeMb = Math.min(arg('mb', 48), 63);
const concurrency = arg('concurrency', 8);

/** A valid dataset of about `bytes` bytes: the same three-class lines over and over. */
function dataset(bytes: number): Buffer {
  const lines = [
    '{"text":"the dog runs in the field","label":"animals"}',
    '{"text":"shares fell after the report","label":"finance"}',
    '{"text":"rain and fog tomorrow","label":"weather"}',
  ];
  const block = Buffer.from(`${lines.join('\n')}\n`);
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / block.length) }, () => block));
}

const rssBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

function download(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        const hash = createHash('sha256');
        res.on('data', (c: Buffer) => hash.update(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(hash.digest('hex')) : reject(new Error(`status ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface Result {
  rssGrowthMb: number;
  slowestHealthMs: number;
  mbPerSecond: number;
}

async function measure(sliceBytes: number, content: Buffer): Promise<Result> {
  const server = await startLathe(ROOT, [], {
    LATHE_STORAGE_SLICE_BYTES: String(sliceBytes),
    LATHE_BODY_LIMIT_BYTES: String(content.length + MB),
  });
  try {
    const form = new FormData();
    form.append('purpose', 'fine-tune');
    form.append('file', new Blob([content]), 'big.jsonl');
    const uploaded = await fetch(`http://127.0.0.1:${server.port}/v1/files`, { method: 'POST', body: form });
    const { id, sha256 } = (await uploaded.json()) as { id: string; sha256: string };
    const path = `/v1/files/${id}/content`;
    if ((await download(server.port, path)) !== sha256) throw new Error('a download differs from the upload');
    const baseline = rssBytes(server.pid);
    let peak = baseline;
    let slowest = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, rssBytes(server.pid));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const prober = (async () => {
      while (running) {
        const started = performance.now();
        await (await fetch(`http://127.0.0.1:${server.port}/health/live`)).arrayBuffer();
        slowest = Math.max(slowest, performance.now() - started);
      }
    })();
    const started = performance.now();
    const hashes = await Promise.all(Array.from({ length: concurrency }, () => download(server.port, path)));
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await Promise.all([sampler, prober]);
    if (hashes.some((h) => h !== sha256)) throw new Error('a download differs from the upload');
    return { rssGrowthMb: (peak - baseline) / MB, slowestHealthMs: slowest, mbPerSecond: (concurrency * content.length) / MB / seconds };
  } finally {
    const problems = await server.stop();
    for (const p of problems) console.log(`  ${p}`);
  }
}

const content = dataset(sizeMb * MB);
console.log(`${concurrency} concurrent downloads of a ${(content.length / MB).toFixed(0)} MB stored file`);
const sliced = await measure(MB, content);
const whole = await measure(64 * MB, content);
const row = (name: string, r: Result) =>
  console.log(
    `${name.padEnd(22)} RSS +${r.rssGrowthMb.toFixed(0).padStart(5)} MB   slowest /health/live ${r.slowestHealthMs.toFixed(0).padStart(5)} ms   ${r.mbPerSecond.toFixed(0)} MB/s`,
  );
row('sliced (1 MiB)', sliced);
row('whole (64 MiB slice)', whole);
// Targets: memory bounded by slices, not by the value; the event loop free enough for health checks.
const memoryOk = sliced.rssGrowthMb < (concurrency * content.length) / MB / 4;
const healthOk = sliced.slowestHealthMs < 1000;
console.log(
  `${memoryOk ? 'PASS' : 'FAIL'}: sliced RSS growth < a quarter of the bytes in flight (${((concurrency * content.length) / MB / 4).toFixed(0)} MB)`,
);
console.log(`${healthOk ? 'PASS' : 'FAIL'}: sliced slowest /health/live < 1000 ms`);

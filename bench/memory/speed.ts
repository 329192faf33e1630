/**
 * What an allocator setting costs in speed: two Lathe servers, A and B, differing only in the
 * environment given here (e.g. B with LD_PRELOAD=jemalloc), both serving MobileNetV2, measured in
 * alternating windows so that both see the same stretch of a shared, drifting machine.
 *
 *   node dist/bench/memory/speed.js [--b NAME=value]... [--a NAME=value]... [--rounds 4] [--seconds 6]
 *
 * Workloads: 224 x 224 JPEGs by multipart to /v1/vision/classify (sharp decode + inference), and
 * OIP JSON infer of one image (body parse + inference), each at 8 requests in flight.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { startLathe, type RunningServer } from '../oip/servers.js';

const CONCURRENCY = 8;

const envOf = (pairs: string[] | undefined) =>
  Object.fromEntries((pairs ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

/** Requests completed with 200 in `seconds`, per second, `CONCURRENCY` closed loops. */
async function throughput(
  port: number,
  seconds: number,
  send: (port: number) => Promise<number>,
): Promise<{ rate: number; failed: number }> {
  const end = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const loop = async () => {
    while (performance.now() < end) {
      if ((await send(port)) === 200) ok += 1;
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return { rate: ok / seconds, failed };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string', multiple: true },
      b: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '6' },
    },
  });
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
  const raw = Buffer.alloc(224 * 224 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.random() * 256) | 0;
  const jpeg = await sharp(raw, { raw: { width: 224, height: 224, channels: 3 } })
    .jpeg()
    .toBuffer();
  const json = JSON.stringify({
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224], data: Array.from({ length: 3 * 224 * 224 }, () => Math.random()) },
    ],
  });
  const workloads: Array<[string, (port: number) => Promise<number>]> = [
    [
      'JPEG multipart classify',
      async (port) => {
        const form = new FormData();
        form.append('model', 'mobilenetv2');
        form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'x.jpg');
        const response = await fetch(`http://127.0.0.1:${port}/v1/vision/classify`, { method: 'POST', body: form });
        await response.arrayBuffer();
        return response.status;
      },
    ],
    [
      'OIP JSON infer, 1 image',
      async (port) => {
        const response = await fetch(`http://127.0.0.1:${port}/v2/models/mobilenetv2/infer`, {
          method: 'POST',
          body: json,
          headers: { 'content-type': 'application/json' },
        });
        await response.arrayBuffer();
        return response.status;
      },
    ],
  ];
  const setups: Array<[string, Record<string, string>]> = [
    ['A', envOf(values.a)],
    ['B', envOf(values.b)],
  ];
  for (const [name, env] of setups) console.log(`${name}: ${JSON.stringify(env)}`);
  const servers: RunningServer[] = [];
  try {
    for (const [, env] of setups) {
      servers.push(
        await startLathe(root, [], {
          LATHE_MODELS_DIR: join(root, 'models'),
          LATHE_MODEL_FILES_DIR: '/work/shared/models',
          LATHE_MODELS_PRELOAD: 'mobilenetv2',
          ...env,
        }),
      );
    }
    for (const [title, send] of workloads) {
      const ratios: number[] = [];
      for (let round = 0; round < Number(values.rounds); round++) {
        // Alternate which setup goes first, so neither always gets the fresher stretch.
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        const rates: number[] = [];
        for (const i of order) rates[i] = (await throughput(servers[i]!.port, Number(values.seconds), send)).rate;
        ratios.push(rates[1]! / rates[0]!);
        console.log(
          `  ${title}, round ${round + 1}: A ${rates[0]!.toFixed(1)} req/s, B ${rates[1]!.toFixed(1)} req/s, B/A ${(rates[1]! / rates[0]!).toFixed(3)}`,
        );
      }
      const sorted = [...ratios].sort((x, y) => x - y);
      const median = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
      console.log(`${title}: median B/A ${median.toFixed(3)} over ${ratios.length} rounds`);
    }
  } finally {
    for (const server of servers)
      for (const problem of await server.stop()) if (!problem.includes('NO API KEYS')) console.log(`note: ${problem}`);
  }
}

await main();

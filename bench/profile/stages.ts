/**
 * Where a thread's CPU went, by request stage: reads a V8 CPU profile (`node --cpu-prof`, e.g. of
 * Lathe's HTTP thread under `bench/embeddings` with LATHE_BENCH_NODE_ARGS) and attributes each
 * sample to the innermost frame that belongs to a known stage (routing, hooks, body parse,
 * validation, Nest's router, the model lookup, the runner, the worker message, serialization,
 * metrics, logging, the socket write). Node's own stream and event code counts toward the stage
 * that called it. Idle samples are left out; the shares are of the busy time.
 *
 * Usage: node dist/bench/profile/stages.js PROFILE.cpuprofile [--last SECONDS] [--us-per-request N]
 * `--last` keeps the samples of the profile's last seconds (the measured window, not start-up);
 * `--us-per-request` (the benchmark's CPU per request for this thread) adds a µs column.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Stages in the order they are tried on each frame, innermost frame first. */
const STAGES: Array<[stage: string, match: (f: CallFrame) => boolean]> = [
  [
    'socket write (writev syscall)',
    (f) => f.functionName === 'writev' || f.functionName === 'writeBuffer' || f.functionName === 'writeUtf8String',
  ],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  [
    'worker message (post, receive, clone)',
    (f) => /postMessage|receiveMessage|MessagePort|node:internal\/worker|session-worker\.js/.test(f.functionName + ' ' + f.url),
  ],
  [
    'request context (AsyncLocalStorage, async hooks)',
    (f) => /node:internal\/async_hooks|node:async_hooks|request-context\.js/.test(f.url),
  ],
  ['metrics (prom-client)', (f) => /prom-client|metrics\.service\.js|model-metrics\.js|model-stats\.js/.test(f.url)],
  ['logging (pino)', (f) => /node_modules\/pino|logging\/logger\.js/.test(f.url)],
  ['validation (zod)', (f) => /node_modules\/zod/.test(f.url)],
  [
    'body parse (JSON, UTF-8 check)',
    (f) => /secure-json-parse|strict-json\.js|content-type-parser\.js|node:internal\/encoding/.test(f.url) || f.functionName === 'decode',
  ],
  ['routing (find-my-way)', (f) => /find-my-way/.test(f.url)],
  [
    'Lathe request hooks (id, auth, headers, in-flight)',
    (f) => /http-hooks\.js|api-key\.hook\.js|security-headers\.js|declared-query\.js|node:internal\/crypto\/random/.test(f.url),
  ],
  [
    'model runner (admission, batcher, deadline timer)',
    (f) => /runtime\/(model-runner|batcher|admission|worker-pool)\.js|node:internal\/timers|node:timers/.test(f.url),
  ],
  ['model lookup and route code', (f) => /dist\/src\/(nlp|tasks|models|oip|vision|speech|contracts)\//.test(f.url)],
  ['Nest router, guards, interceptors (rxjs)', (f) => /@nestjs|node_modules\/rxjs|reflect-metadata/.test(f.url)],
  ['Fastify request and reply', (f) => /node_modules\/fastify|node_modules\/@fastify|light-my-request|avvio/.test(f.url)],
  [
    'Node HTTP parse and response',
    (f) =>
      /node:_http|node:http|node:net|node:internal\/streams|node:internal\/stream_base|HTTPParser/.test(f.url) ||
      f.functionName === 'parserOnHeadersComplete',
  ],
  ['microtasks and ticks', (f) => f.functionName === 'runMicrotasks' || /task_queues/.test(f.url)],
  ['V8 (program)', (f) => f.functionName === '(program)'],
];

function stagesOf(profile: CpuProfile, lastSeconds?: number): { busyMs: number; idleMs: number; stages: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOfNode = new Map<number, string>();
  const stageOf = (id: number): string => {
    const known = stageOfNode.get(id);
    if (known) return known;
    let stage = 'other';
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      const hit = STAGES.find(([, match]) => match(frame));
      if (hit) {
        stage = hit[0];
        break;
      }
    }
    stageOfNode.set(id, stage);
    return stage;
  };
  const from = lastSeconds === undefined ? -Infinity : profile.endTime - lastSeconds * 1e6;
  const stages = new Map<string, number>();
  let t = profile.startTime;
  let idle = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from) return;
    if (byId.get(id)!.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    busy += dt;
    const stage = stageOf(id);
    stages.set(stage, (stages.get(stage) ?? 0) + dt);
  });
  return { busyMs: busy / 1000, idleMs: idle / 1000, stages };
}

function main(): void {
  const [file] = process.argv.slice(2);
  const flag = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  if (!file) throw new Error('usage: stages.js PROFILE.cpuprofile [--last SECONDS] [--us-per-request N]');
  const { busyMs, idleMs, stages } = stagesOf(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, flag('--last'));
  const perRequest = flag('--us-per-request');
  console.log(`busy ${busyMs.toFixed(0)} ms, idle ${idleMs.toFixed(0)} ms\n`);
  console.log(`| stage | share of busy time |${perRequest ? ' µs per request |' : ''}`);
  console.log(`|---|---|${perRequest ? '---|' : ''}`);
  for (const [stage, us] of [...stages].sort((a, b) => b[1] - a[1])) {
    const share = us / 1000 / busyMs;
    console.log(`| ${stage} | ${(share * 100).toFixed(1)} % |${perRequest ? ` ${(share * perRequest).toFixed(1)} |` : ''}`);
  }
}

main();

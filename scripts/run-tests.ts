/**
 * `npm test`: runs every unit spec (dist/src/**\/*.spec.js) and test (dist/test/**\/*.test.js)
 * with node's test runner, two files at a time; timing-sensitive `*.serial.test.js` files run
 * afterwards on their own, so other files' CPU load does not skew what they measure. Tests make
 * their own databases on DATABASE_URL when it is set, else on an embedded PostgreSQL started here
 * in a temp dir and removed afterwards. Ends with one line totalling both runs.
 *   node dist/scripts/run-tests.js [path-filter ...]
 */
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disableOnnxRuntimeTelemetry } from '../src/config/app-config.js';
import { EmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { freePort, makeTempDir } from '../test/support/processes.js';

// Test processes inherit it: their in-process ONNX Runtime sessions send no telemetry either.
disableOnnxRuntimeTelemetry();

const DIST = fileURLToPath(new URL('..', import.meta.url));

async function findTests(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findTests(path)));
    else if (/\.(spec|test)\.js$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

const filters = process.argv.slice(2);
const files = [...(await findTests(join(DIST, 'src'))), ...(await findTests(join(DIST, 'test')))].filter(
  (f) => filters.length === 0 || filters.some((p) => relative(DIST, f).includes(p)),
);

let embedded: EmbeddedPostgres | undefined;
let dataDir: string | undefined;
let serverUrl = process.env.DATABASE_URL;
if (serverUrl) {
  console.log(`Tests use the PostgreSQL server at DATABASE_URL (one database per test file).`);
} else {
  dataDir = await makeTempDir('lathe-test-pg-');
  const quiet = { log: () => {}, warn: console.warn, debug: () => {}, error: console.error };
  embedded = new EmbeddedPostgres({ dataDir, port: await freePort(), logger: quiet });
  serverUrl = (await embedded.start()).replace(/\/lathe$/, '/postgres');
  console.log(`Tests use an embedded PostgreSQL in ${dataDir} (no DATABASE_URL given).`);
}

// The test processes' temp dir, removed at the end: whatever they or their libraries leave there
// (ONNX Runtime writes an empty mat-debug-<pid>.log into TMPDIR in every process that loads it) goes with it.
const testTmp = await makeTempDir('lathe-test-tmp-');

const totals = { pass: 0, fail: 0, skipped: 0 };
/** Top-level `not ok` lines: a file or suite that failed, e.g. in a before() hook, which node's own count leaves out. */
const failedSuites: string[] = [];

/** Runs node's test runner on the files, forwarding its TAP output and adding up its summary. */
function runFiles(list: string[], concurrency: number): Promise<number> {
  if (list.length === 0) return Promise.resolve(0);
  return new Promise<number>((resolve) => {
    // --expose-gc: memory tests measure RSS after a full collection.
    const child = spawn(process.execPath, ['--expose-gc', '--test', '--test-reporter=tap', `--test-concurrency=${concurrency}`, ...list], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LATHE_TEST_DATABASE_URL: serverUrl, TMPDIR: testTmp },
    });
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      process.stdout.write(chunk);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const m = /^# (pass|fail|skipped) (\d+)$/.exec(line);
        if (m) totals[m[1] as keyof typeof totals] += Number(m[2]);
        if (line.startsWith('not ok ')) failedSuites.push(line.replace(/^not ok \d+ - /, ''));
      }
    });
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
}

const serial = files.filter((f) => f.endsWith('.serial.test.js'));
const parallel = files.filter((f) => !serial.includes(f));
const codes = [await runFiles(parallel, 2), await runFiles(serial, 1)];
const code = codes.find((c) => c !== 0) ?? 0;
console.log(`tests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
if (failedSuites.length > 0) console.log(`failed files or suites (${failedSuites.length}):\n  ${failedSuites.join('\n  ')}`);

await embedded?.stop();
if (dataDir) await rm(dataDir, { recursive: true, force: true });
await rm(testTmp, { recursive: true, force: true });
process.exit(code);

// Runs the README's runnable shell blocks, in order, so the commands it shows keep working.
//
// A block is runnable when the line before its ```sh fence is `<!-- runnable -->`; with
// `<!-- runnable: server -->` the block starts the server: it runs in the background (its own
// process group) until GET /health/ready answers 200, the blocks after it talk to it, and it is
// stopped by its pid (SIGTERM to the group, SIGKILL after 30 s) when the run ends, passed or not.
// Each block runs in `bash -euo pipefail` in the checkout's folder, with `curl` failing on an
// HTTP error, and must exit 0 within its time limit. The server listens on a free port: every
// `localhost:8080` in a block is rewritten to it (PORT is set for the blocks too).
//
//   node scripts/readme-blocks.mjs --clone            a fresh `git clone` of HEAD in a temp folder (CI)
//   node scripts/readme-blocks.mjs [--dir path]       this checkout (or another one)
//   options: --timeout-s n (whole run, default 1800), --list (print the blocks, run nothing)
/* global fetch, setTimeout, clearTimeout */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { clone: { type: 'boolean' }, dir: { type: 'string' }, 'timeout-s': { type: 'string' }, list: { type: 'boolean' } },
});
/** A block's own limit; the server block's covers `npm ci` and the first build. */
const BLOCK_MS = 300_000;
const SERVER_READY_MS = 900_000;
const STOP_GRACE_MS = 30_000;
const deadline = Date.now() + Number(values['timeout-s'] ?? 1800) * 1000;

const blocks = runnableBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
if (values.list) {
  for (const b of blocks) console.log(`--- README.md:${b.line}${b.server ? ' (starts the server)' : ''}\n${b.code}`);
  process.exit(0);
}

let workDir = resolve(values.dir ?? root);
let cloned;
if (values.clone) {
  cloned = mkdtempSync(join(tmpdir(), 'lathe-readme-'));
  // The embedded PostgreSQL started as root runs as `postgres`, which must reach its binaries in node_modules.
  chmodSync(cloned, 0o755);
  workDir = join(cloned, 'lathe');
  git(['clone', '--quiet', '--no-hardlinks', root, workDir]);
}
const port = await freePort();
let server;
let failed = 0;
// Stopped from outside (CI's `timeout`, Ctrl-C): the server goes first.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    console.log(`=== ${signal}: stopping`);
    if (server) await stopServer(server);
    process.exit(1);
  });
}
try {
  for (const block of blocks) {
    const code = block.code.replaceAll('localhost:8080', `localhost:${port}`);
    console.log(`\n=== README.md:${block.line}${block.server ? ' (starts the server)' : ''}\n${code}`);
    if (block.server) {
      server = startServer(code);
      await waitReady(server);
      continue;
    }
    const status = await runBlock(code, Math.min(BLOCK_MS, deadline - Date.now()));
    if (status !== 0) {
      console.log(`=== README.md:${block.line} failed (${status})`);
      failed += 1;
      break;
    }
  }
} catch (err) {
  console.log(`=== ${err.message}`);
  failed += 1;
} finally {
  if (server) await stopServer(server);
  if (cloned && failed === 0) rmSync(cloned, { recursive: true, force: true });
  else if (cloned) console.log(`=== the clone is kept for a look: ${workDir}`);
}
console.log(failed === 0 ? `\n=== ${blocks.length} README blocks ran` : '\n=== a README block failed');
process.exit(failed === 0 ? 0 : 1);

/** The ```sh blocks right after a `<!-- runnable -->` line, with the line they start on. */
function runnableBlocks(text) {
  const lines = text.split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i += 1) {
    const marker = /^<!-- runnable(: server)? -->$/.exec(lines[i].trim());
    if (!marker) continue;
    if (lines[i + 1]?.trim() !== '```sh') throw new Error(`README.md:${i + 1}: a runnable marker must be followed by a \`\`\`sh block`);
    const end = lines.findIndex((l, j) => j > i + 1 && l.trim() === '```');
    found.push({ line: i + 3, server: Boolean(marker[1]), code: lines.slice(i + 2, end).join('\n') });
    i = end;
  }
  return found;
}

function env() {
  return {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LATHE_DATA_DIR: join(workDir, 'data'),
    LOG_LEVEL: 'warn',
    FORCE_COLOR: '0',
  };
}

/** bash with errors fatal and curl failing on an HTTP error status (its body is still printed). */
function bashArgs(code) {
  return ['-euo', 'pipefail', '-c', `curl() { command curl --fail-with-body "$@"; }\n${code}`];
}

function runBlock(code, timeoutMs) {
  if (timeoutMs <= 0) return Promise.resolve('the whole run is out of time');
  return new Promise((resolve) => {
    const child = spawn('bash', bashArgs(code), { cwd: workDir, env: env(), stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const timer = setTimeout(() => {
      kill(child.pid, 'SIGKILL');
      resolve(`timed out after ${Math.round(timeoutMs / 1000)} s`);
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
  });
}

function startServer(code) {
  const child = spawn('bash', bashArgs(code), { cwd: workDir, env: env(), stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  console.log(`=== server block running as process group ${child.pid}`);
  return { pid: child.pid, exited };
}

async function waitReady(server) {
  const until = Math.min(Date.now() + SERVER_READY_MS, deadline);
  let gone;
  server.exited.then((status) => (gone = status));
  while (Date.now() < until) {
    if (gone !== undefined) throw new Error(`the server block exited (${gone}) before it was ready`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the server was not ready on port ${port} in time`);
}

/**
 * SIGTERM to the server (the `node dist/src/main.js` in the block's process group; it drains, stops
 * its embedded PostgreSQL and exits, and npm and bash after it), then SIGKILL to the whole group when
 * it has not exited in time.
 */
async function stopServer(server) {
  const main = groupMembers(server.pid).find((pid) => readProc(pid, 'cmdline').split('\0').includes('dist/src/main.js'));
  console.log(`=== stopping the server: SIGTERM to ${main ? `pid ${main}` : `process group ${server.pid}`}`);
  if (main) process.kill(main, 'SIGTERM');
  else kill(server.pid, 'SIGTERM');
  const stopped = await Promise.race([server.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), STOP_GRACE_MS))]);
  if (!stopped) kill(server.pid, 'SIGKILL');
  console.log(`=== server (process group ${server.pid}) ${stopped ? 'stopped' : 'killed'}`);
}

/** Pids whose process group is `group` (field 5 of /proc/<pid>/stat). */
function groupMembers(group) {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter(
      (pid) =>
        Number(
          readProc(pid, 'stat')
            .replace(/^.*\) /s, '')
            .split(' ')[2],
        ) === group,
    );
}

function readProc(pid, file) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

function kill(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function git(args) {
  const result = spawnSync('git', args, { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

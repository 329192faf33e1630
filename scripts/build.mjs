// Builds dist/ without ever removing it: a server running from this checkout loads
// dist/src/runtime/*.worker.js by path whenever it starts a worker, so the folder and every file
// in it must exist at every moment.
//
// tsc (incremental) and the console bundle write into .dist-build/ (same depth as dist/, so the
// source maps' relative paths hold); each output that changed is then moved into dist/ by one
// rename, so a reader sees the old file or the new one, never a half-written one. Outputs whose
// source is gone are removed, except under dist/src/ while a process is running code from dist/
// (they are named then, and removed by a later build).
//
//   node scripts/build.mjs              build (tsc, console bundle) and update dist/
//   node scripts/build.mjs --if-stale   the same, but only when a source changed since the last build
//
// Plain JavaScript (not compiled): it is what compiles.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const staging = join(root, '.dist-build');
const stampFile = join(dist, '.build-stamp');
/** What tsconfig.json compiles, the console's sources (under src/) and what decides how. */
const INPUT_DIRS = ['src', 'migrations', 'scripts', 'test', 'bench'];
/** Files in those folders that go into dist/ (TypeScript, JSON it imports, the console's page and styles). */
const INPUT_NAME = /\.(?:[cm]?ts|json|css|html)$/;
const INPUT_FILES = ['tsconfig.json', 'package-lock.json', 'scripts/build-console.mjs'];
/** Files in dist/ a build does not make and must never touch. */
const KEEP = new Set(['.build-stamp', '.tsbuildinfo']);

const log = (line) => process.stderr.write(`build: ${line}\n`);

const stamp = inputStamp();
if (process.argv.includes('--if-stale') && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) process.exit(0);

const started = Date.now();
log('compiling into dist/ (tsc, then the console bundle); dist/ stays in place for a running server');
run(process.execPath, [tscBin(), '-p', 'tsconfig.json', '--outDir', '.dist-build', '--tsBuildInfoFile', '.dist-build/.tsbuildinfo']);
run(process.execPath, [tscBin(), '-p', 'src/console/web/tsconfig.json']);
run(process.execPath, [join(root, 'scripts/build-console.mjs'), join(staging, 'console')]);

// tsc leaves the outputs of a deleted or renamed source in .dist-build/: they go there first.
for (const file of listFiles(staging)) if (!KEEP.has(file) && !hasSource(file)) rmSync(join(staging, file), { force: true });
const built = listFiles(staging).filter((f) => !KEEP.has(f));
let replaced = 0;
for (const file of built) if (install(file)) replaced += 1;
const builtSet = new Set(built);
// Another build's file on its way in (`<name>.tmp-<pid>`) is not stale.
const stale = listFiles(dist).filter((f) => !KEEP.has(f) && !builtSet.has(f) && !/\.tmp-\d+$/.test(f));
// A running server loads only dist/src/ (its workers by path, at any time): stale files there stay
// while a process runs from dist/. Elsewhere (tests, scripts) they go at once, or the test runner
// would still find a renamed test's old file.
const users = processesUsingDist();
const kept = users.length > 0 ? stale.filter((f) => f.startsWith(`src${sep}`)) : [];
for (const file of stale) if (!kept.includes(file)) rmSync(join(dist, file), { force: true });
writeFileSync(stampFile, stamp);
const seconds = ((Date.now() - started) / 1000).toFixed(1);
log(`dist/ up to date in ${seconds} s: ${replaced} of ${built.length} files replaced, ${stale.length - kept.length} stale removed`);
if (kept.length > 0) {
  const names = `${kept.slice(0, 3).join(', ')}${kept.length > 3 ? ', …' : ''}`;
  log(`kept ${kept.length} stale files under dist/src (${names}): process ${users.join(', ')} runs from dist/`);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    log(`${relative(root, args[0])} failed (exit ${result.status ?? result.signal}); dist/ was not changed`);
    process.exit(result.status || 1);
  }
}

function tscBin() {
  return join(root, 'node_modules/typescript/bin/tsc');
}

/** Moves one output into dist/ when it differs from what is there: a write beside it, then one rename. */
function install(file) {
  const from = join(staging, file);
  const to = join(dist, file);
  const bytes = readFileSync(from);
  if (existsSync(to) && readFileSync(to).equals(bytes)) return false;
  mkdirSync(dirname(to), { recursive: true });
  const temp = `${to}.tmp-${process.pid}`;
  writeFileSync(temp, bytes);
  renameSync(temp, to);
  return true;
}

/** Whether a compiled output's source still exists (`a/b.js` and `a/b.js.map` from `a/b.ts`); the console bundle always has one. */
function hasSource(file) {
  if (file.startsWith(`console${sep}`)) return true;
  const match = /^(.*)\.(c|m)?js(?:\.map)?$/.exec(file);
  return match !== null && existsSync(join(root, `${match[1]}.${match[2] ?? ''}ts`));
}

/** Relative paths of the files under a folder (none when it does not exist). */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** Every input's path, size and modification time, hashed: any edit, new file or deletion changes it. */
function inputStamp() {
  const hash = createHash('sha256');
  const add = (path) => {
    const info = statSync(join(root, path), { throwIfNoEntry: false });
    if (info) hash.update(`${path}\0${info.size}\0${info.mtimeMs}\n`);
  };
  for (const dir of INPUT_DIRS)
    for (const file of listFiles(join(root, dir))
      .filter((f) => INPUT_NAME.test(f))
      .sort())
      add(join(dir, file));
  for (const file of INPUT_FILES) add(file);
  return hash.digest('hex');
}

/** Pids of processes (other than this one) whose command line or working directory is in dist/. */
function processesUsingDist() {
  const pids = [];
  for (const entry of existsSync('/proc') ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const inDist = (p) => p !== '' && (resolve(cwd, p) === dist || resolve(cwd, p).startsWith(dist + sep));
      if (inDist(cwd) || args.some(inDist)) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

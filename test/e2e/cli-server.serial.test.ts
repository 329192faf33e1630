/**
 * The CLI beside a real server process running from this checkout (`node dist/src/main.js`, the
 * embedded PostgreSQL): `npm run lathe` and `npm run api-key` never take dist/ away from it, and
 * `lathe files` / `lathe jobs` drive its fine-tuning API, `jobs follow` drawing a live progress bar
 * in a real terminal (tmux). Serial: its rebuild of dist/ is CPU-heavy for other files, and the bar
 * is caught part way only when the training is not starved.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashApiKey } from '../../src/config/api-keys.js';
import { jsonl, topicExamples } from '../support/fine-tuning.js';
import {
  freePort,
  MAIN,
  ROOT,
  serverSandbox,
  type ServerSandbox,
  spawnCommand,
  spawnNode,
  waitFor,
  waitForStatus,
} from '../support/processes.js';

const KEY = 'lathe_cli-test-key-0123456789abcdef';
const WORKER = join(ROOT, 'dist/src/runtime/session.worker.js');
const CLI = join(ROOT, 'dist/scripts/lathe.js');
const TMUX = `lathe-cli-test-${process.pid}`;
const npmEnv = { HOME: process.env.HOME ?? '/root' };

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('the CLI beside a server running from the checkout', () => {
  let box: ServerSandbox;
  let base: string;
  const auth = { authorization: `Bearer ${KEY}` };

  before(async () => {
    box = await serverSandbox('lathe-cli-server-');
    base = box.base;
    spawnNode(MAIN, { ...box.env, LATHE_API_KEYS: `cli:${hashApiKey(KEY)}:infer+train+manage` });
    await waitForStatus(`${base}/health/ready`, 200, 60_000);
  });
  after(async () => {
    if (hasTmux) {
      try {
        execFileSync('tmux', ['kill-session', '-t', TMUX], { stdio: 'ignore' });
      } catch {
        // Not started, or already gone.
      }
    }
    await box.cleanup();
  });

  const state = async (model: string) => {
    const res = await fetch(`${base}/v2/repository/index`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    const index = (await res.json()) as Array<{ name: string; state: string }>;
    return index.find((m) => m.name === model)?.state;
  };

  it('runs `npm run lathe -- models list` and `npm run api-key` (rebuilding a changed source) while the server starts new workers', async () => {
    assert.equal(await state('glove-100d'), 'UNAVAILABLE', 'not loaded yet: its first request starts a worker');

    // dist/ is current (the suite runs on a fresh build): no build, straight to the command.
    const list = spawnCommand('npm', ['run', '--silent', 'lathe', '--', 'models', 'list', '--url', base, '--api-key', KEY], npmEnv);
    assert.equal((await list.exited).code, 0, list.output());
    assert.doesNotMatch(list.output(), /^build:/m);
    assert.match(list.output(), /^NAME +VERSIONS +TASK +STATE +SOURCE +SIZE$/m);
    assert.match(list.output(), /^glove-100d +1 +feature-extraction +UNAVAILABLE +huggingface:hf\/onnx\/model\.onnx +\d+\.\d MB$/m);

    // A source newer than the last build: `npm run api-key` rebuilds first. The worker file must be
    // there at every moment of it.
    const source = join(ROOT, 'src/common/version.ts');
    const now = new Date();
    await utimes(source, now, now);
    let missing = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (!existsSync(WORKER)) missing += 1;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // Meanwhile the server keeps starting workers: a model loaded and unloaded again and again.
    const loads: number[] = [];
    const loader = (async () => {
      while (watching) {
        for (const verb of ['load', 'unload']) {
          const res = await fetch(`${base}/v2/repository/models/math-symbols/${verb}`, { method: 'POST', headers: auth });
          if (verb === 'load') loads.push(res.status);
          await res.arrayBuffer();
        }
      }
    })();
    const key = spawnCommand('npm', ['run', '--silent', 'api-key', '--', 'ci', 'infer'], npmEnv);
    const { code } = await key.exited;
    watching = false;
    await watcher;
    await loader;
    assert.ok(loads.length >= 2, `${loads.length} loads during the build`);
    assert.deepEqual(new Set(loads), new Set([200]), `every load during the build succeeded: ${loads.join(', ')}`);
    assert.equal(code, 0, key.output());
    assert.match(key.output(), /^build: dist\/ up to date in \d+\.\d s: \d+ of \d+ files replaced/m);
    assert.match(key.output(), /^key \(give to the client, shown once\): lathe_[A-Za-z0-9_-]{32}$/m);
    assert.equal(missing, 0, 'dist/src/runtime/session.worker.js was missing while the CLI ran');

    // After the CLI ran: a model not loaded before, whose request starts a new worker from dist/.
    const res = await fetch(`${base}/v1/embeddings`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'glove-100d', input: 'cat' }),
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.equal((JSON.parse(body) as { data: Array<{ embedding: number[] }> }).data[0]!.embedding.length, 100);
    assert.equal(await state('glove-100d'), 'READY');
  });

  it(
    '`lathe jobs create --follow` draws a live progress bar and the loss in a terminal, then the final status',
    { skip: !hasTmux && 'tmux is not installed' },
    async () => {
      const dataset = join(box.dataDir, 'topics.jsonl');
      // 1800 examples for 300 epochs (54,000 steps): seconds of training, so that the terminal is
      // seen with the bar part way (a quiet machine ran 180 examples for 30 epochs between two
      // captures). The finished screen is read with its scrollback, where the first epochs are.
      await writeFile(dataset, jsonl(topicExamples(600)));
      const cmd = [
        `LATHE_URL=${base}`,
        `LATHE_API_KEY=${KEY}`,
        process.execPath,
        CLI,
        'jobs create --model glove-100d --suffix topics --training-file',
        dataset,
        `--hyperparameters '{"n_epochs": 300, "batch_size": 8}' --follow`,
        '; echo "exit $?"',
      ].join(' ');
      execFileSync('tmux', ['new-session', '-d', '-s', TMUX, '-x', '140', '-y', '50', `cd ${ROOT} && ${cmd}; sleep 600`]);
      const capture = () => execFileSync('tmux', ['capture-pane', '-p', '-t', TMUX], { encoding: 'utf8' });
      const scrollback = () => execFileSync('tmux', ['capture-pane', '-p', '-S', '-', '-t', TMUX], { encoding: 'utf8' });
      const bar = /^\[[#-]{30}\] +\d+% {2}step (\d+)\/(\d+) {2}epoch (\d+) {2}loss (\d+\.\d{4})$/;
      let live: string | undefined;
      const screen = await waitFor(
        async () => {
          const text = capture();
          const lines = text.trimEnd().split('\n');
          const last = lines.at(-1)!;
          // The bar as the bottom line while the job still runs (no status line yet), part way through.
          const m = bar.exec(last);
          if (!live && m && Number(m[1]) < Number(m[2]) && !/^status /m.test(text)) live = text;
          return /^exit \d+$/m.test(text) ? scrollback() : undefined;
        },
        180_000,
        'the job to finish in the terminal',
      );
      assert.ok(live, `a bar part way through was on screen while the job ran; last screen:\n${screen}`);
      assert.match(live, /^Epoch \d+\/300, step \d+: train loss \d+\.\d{4}/m, 'a loss line above the live bar');
      assert.match(screen, /^uploaded topics\.jsonl as file-[0-9a-f]{24} \(\d+ bytes, 1800 examples, status processed\)$/m);
      assert.match(screen, /^created ftjob-[0-9a-f]{24} \(queued\): fine-tunes glove-100d$/m);
      assert.match(screen, /^Epoch 1\/300, step \d+: train loss \d+\.\d{4}/m);
      assert.match(screen, /^\[#{30}\] 100% {2}step (\d+)\/\1 {2}epoch \d+ {2}loss \d+\.\d{4}$/m);
      assert.match(screen, /^status succeeded: fine-tuned model ft:glove-100d:topics:ftjob-[0-9a-f]{24}$/m);
      assert.match(screen, /^exit 0$/m);
      execFileSync('tmux', ['kill-session', '-t', TMUX]);

      // The fine-tuned head is listed beside the folder's models, from the server.
      const list = spawnNode(CLI, { LATHE_URL: base, LATHE_API_KEY: KEY }, ['models', 'list']);
      assert.equal((await list.exited).code, 0, list.output());
      assert.match(list.output(), /^ft:glove-100d:topics:ftjob-[0-9a-f]{24} +1 +\S+ +\w+ +fine-tuned head \(server database\) +-$/m);
      const jobs = spawnNode(CLI, { LATHE_URL: base, LATHE_API_KEY: KEY }, ['jobs', 'list']);
      assert.equal((await jobs.exited).code, 0, jobs.output());
      assert.match(
        jobs.output(),
        /^ID +MODEL +STATUS +CREATED +FINE-TUNED MODEL\nftjob-[0-9a-f]{24} +glove-100d +succeeded +\S+Z +ft:glove-100d:topics:/m,
      );
      const files = spawnNode(CLI, { LATHE_URL: base, LATHE_API_KEY: KEY }, ['files', 'list']);
      assert.equal((await files.exited).code, 0, files.output());
      assert.match(files.output(), /^file-[0-9a-f]{24} +topics\.jsonl +fine-tune +\d+ +processed +\S+Z$/m);
      await rm(dataset);
    },
  );

  it('names the missing API key and an unreachable server with their exit codes', async () => {
    const noKey = spawnNode(CLI, { LATHE_URL: base }, ['jobs', 'list']);
    assert.equal((await noKey.exited).code, 77);
    assert.match(noKey.output(), /^lathe: GET \/v1\/fine_tuning\/jobs: 401 MISSING_API_KEY: .*\(set --api-key or LATHE_API_KEY\)$/m);
    const noServer = spawnNode(CLI, {}, ['files', 'list']);
    assert.equal((await noServer.exited).code, 64);
    assert.match(noServer.output(), /^lathe: no server: set LATHE_URL or --url/m);
    const port = await freePort();
    const closed = spawnNode(CLI, { LATHE_URL: `http://127.0.0.1:${port}` }, ['jobs', 'follow', 'ftjob-0']);
    assert.equal((await closed.exited).code, 69);
    assert.match(
      closed.output(),
      new RegExp(`^lathe: cannot reach the server at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); is it running\\?`, 'm'),
    );
  });
});

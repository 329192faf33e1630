import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { runCli } from '../../src/cli/lathe-cli.js';
import { parseManifest } from '../../src/contracts/model-manifest.js';
import { startTestApp } from '../support/app.js';
import { FakeHub, tinyClassifierOutput, tinyClassifierRepo } from '../support/fake-hub.js';
import { freePort, killSpawned, makeTempDir, spawnNode } from '../support/processes.js';
import { EXPECTED, noisePng, yoloRepo, YOLO_LABELS } from '../support/yolo-model.js';

const CLI = fileURLToPath(new URL('../../scripts/lathe.js', import.meta.url));
const REPO = 'lathe-test/tiny-classifier';
const GATED = 'lathe-test/gated-classifier';
const YOLO = 'lathe-test/tiny-yolo';
const WEIGHTS = 'onnx/model_quantized.onnx_data';
const PULLED = ['config.json', 'onnx/model_quantized.onnx', WEIGHTS, 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];

/** Runs the CLI in this process (fast retries), capturing what it prints. */
async function lathe(hub: FakeHub, modelsDir: string, args: string[], env: { hfToken?: string; hfEndpoint?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    { modelsDir, hfEndpoint: hub.endpoint, ...env },
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
    { retry: { retries: 2, backoffMs: 5 } },
  );
  return { code, stdout, stderr };
}

async function files(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? files(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`])),
  );
  return nested.flat().sort();
}

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

describe('lathe models pull | list | rm', () => {
  let hub: FakeHub;
  const dirs: string[] = [];
  const newModelsDir = async () => {
    const dir = await makeTempDir('lathe-pull-');
    dirs.push(dir);
    return dir;
  };
  const cdnRequests = (path: string) => hub.requests.filter((r) => r.url === `/cdn/${hub.sha256Of(REPO, path)}`);

  before(async () => {
    hub = await FakeHub.start([tinyClassifierRepo(REPO), { ...tinyClassifierRepo(GATED), gated: true }, yoloRepo(YOLO)], {
      token: 'hf_test_token',
    });
  });
  after(async () => {
    killSpawned();
    await hub.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('pulls the files the task needs, verified, into a new version with a manifest the server accepts', async () => {
    const dir = await newModelsDir();
    const { code, stdout, stderr } = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny']);
    assert.equal(code, 0, stderr);
    const commit = hub.commitOf(REPO);
    assert.equal(
      stdout,
      `pulled ${REPO}@${commit.slice(0, 7)} as tiny version 1 (text-classification, 6 files) in ${join(dir, 'tiny', '1')}\n`,
    );
    assert.deepEqual(await files(join(dir, 'tiny', '1')), [...PULLED.map((p) => `hf/${p}`), 'model.json', 'origin.json']);
    const repo = tinyClassifierRepo(REPO);
    for (const path of PULLED) {
      assert.deepEqual(await readFile(join(dir, 'tiny', '1', 'hf', path)), repo.files.find((f) => f.path === path)!.content, path);
    }
    const manifest = JSON.parse(await readFile(join(dir, 'tiny', '1', 'model.json'), 'utf8'));
    assert.deepEqual(manifest, {
      task: 'text-classification',
      description: `${REPO} (q8) from the Hugging Face Hub, revision main at commit ${commit}`,
      license: 'apache-2.0',
      source: { huggingface: 'hf', file: 'onnx/model_quantized.onnx' },
      origin: { huggingface: { repo: REPO, revision: 'main', commit } },
      inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [2] }],
      labels: ['NEGATIVE', 'POSITIVE'],
      maxBatchSize: 8,
    });
    parseManifest(manifest, 'model.json');
    const origin = JSON.parse(await readFile(join(dir, 'tiny', '1', 'origin.json'), 'utf8'));
    assert.deepEqual(origin.huggingface, { endpoint: hub.endpoint, repo: REPO, revision: 'main', commit });
    assert.deepEqual(
      origin.files.map((f: { path: string; sha256: string }) => [f.path, f.sha256]).sort(),
      PULLED.map((p) => [p, hub.sha256Of(REPO, p)]),
    );
    // The listing asked for sizes and hashes; every file was fetched at the commit, not at "main".
    assert.ok(hub.requests.some((r) => r.url === `/api/models/${REPO}/revision/main?blobs=true`));
    const resolves = hub.requests.filter((r) => r.url.startsWith(`/${REPO}/resolve/`)).map((r) => r.url);
    assert.deepEqual(resolves.sort(), PULLED.map((p) => `/${REPO}/resolve/${commit}/${p}`).sort());
    assert.deepEqual(await files(join(dir, '.staging')), [], 'staging is left empty');
  });

  it('says a model is up to date when its newest version holds the same commit and files, and downloads nothing', async () => {
    const dir = await newModelsDir();
    assert.equal((await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny'])).code, 0);
    const before = hub.requests.length;
    const again = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny']);
    const short = hub.commitOf(REPO).slice(0, 7);
    assert.deepEqual([again.code, again.stdout], [0, `tiny version 1 is up to date with ${REPO}@${short} (main); nothing to pull\n`]);
    assert.deepEqual(
      hub.requests.slice(before).map((r) => r.url),
      [`/api/models/${REPO}/revision/main?blobs=true`],
      'only the listing was asked for',
    );
    assert.deepEqual(await readdir(join(dir, 'tiny')), ['1']);
    // Another dtype is other files: a new version. A weights file gone from the newest: pulled again.
    const fp32 = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny', '--dtype', 'fp32']);
    assert.match(fp32.stdout, new RegExp(`^pulled ${REPO}@${short} as tiny version 2 \\(text-classification, \\d files\\)`));
    assert.deepEqual((await readdir(join(dir, 'tiny'))).sort(), ['1', '2']);
    await rm(join(dir, 'tiny', '2', 'hf', 'onnx', 'model.onnx'));
    const broken = (await lathe(hub, dir, ['models', 'list'])).stdout;
    assert.match(broken, /^tiny +1,2 +text-classification +hf:\S+ onnx\/model.onnx \(weights file \S+ does not exist\) +missing$/m);
    const listed = JSON.parse((await lathe(hub, dir, ['models', 'list', '--json'])).stdout) as Array<{
      versions: Array<{ size: number | null }>;
    }>;
    assert.equal(listed[0]!.versions[1]!.size, null);
    assert.ok(listed[0]!.versions[0]!.size! > 0);
    const repaired = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny', '--dtype', 'fp32']);
    assert.match(repaired.stdout, / as tiny version 3 /);
    const table = (await lathe(hub, dir, ['models', 'list'])).stdout;
    assert.match(table, /^tiny +1,2,3 +text-classification +hf:\S+ onnx\/model.onnx +\d+\.\d kB$/m);
  });

  it('as the built `lathe` bin in a child process, pulls a model that the server then serves', async () => {
    const dir = await newModelsDir();
    // Its own temp and home folders: reading the model's signature starts ONNX Runtime, whose
    // telemetry must stay off (no device id, event database or log left behind).
    const tmp = await makeTempDir('lathe-cli-tmp-');
    const home = await makeTempDir('lathe-cli-home-');
    const child = spawnNode(CLI, { HF_ENDPOINT: hub.endpoint, LATHE_MODELS_DIR: dir, TMPDIR: tmp, HOME: home }, [
      'models',
      'pull',
      REPO,
      '--name',
      'tiny',
    ]);
    const { code } = await child.exited;
    assert.equal(code, 0, child.output());
    assert.match(child.output(), /^onnx\/model_quantized\.onnx_data: 196\.6 kB done/m, 'plain progress lines off a TTY');
    assert.deepEqual([...(await files(tmp)), ...(await files(home))], []);
    await rm(tmp, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });

    const t = await startTestApp({ LATHE_MODELS_DIR: dir });
    try {
      const index = await request(t.server).post('/v2/repository/index').send({});
      assert.deepEqual(index.body, [{ name: 'tiny', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
      const x = [
        [1, 2, 3, 4],
        [-1, 0.5, 2, -3],
      ];
      const res = await request(t.server)
        .post('/v2/models/tiny/infer')
        .send({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: x.flat() }] });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {
        model_name: 'tiny',
        model_version: '1',
        outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 2], data: tinyClassifierOutput(x) }],
      });
      // The fixture's tokenizer.json has no decoder, which Transformers.js refuses: raw tensors
      // serve (above), the text route says why it cannot.
      const text = await request(t.server).post('/v1/text/classify').send({ model: 'tiny', inputs: 'hello' });
      assert.equal(text.status, 503, text.text);
      assert.equal(text.body.error.code, 'MODEL_LOAD_FAILED');
      assert.match(
        text.body.error.message,
        /^model "tiny": tokenizer or config.json could not be read: Tokenizer must contain a "decoder" property/,
      );
    } finally {
      await t.close();
    }
  });

  it('pulls a YOLO export (config.json model_type yolov8) as a detector the detect route serves', async () => {
    const dir = await newModelsDir();
    const { code, stderr } = await lathe(hub, dir, ['models', 'pull', YOLO, '--name', 'yolo', '--dtype', 'fp32']);
    assert.equal(code, 0, stderr);
    const manifest = JSON.parse(await readFile(join(dir, 'yolo', '1', 'model.json'), 'utf8'));
    assert.deepEqual(
      [manifest.task, manifest.labels, manifest.image, manifest.parameters, manifest.maxBatchSize],
      [
        'object-detection',
        YOLO_LABELS,
        { input: 'images', width: 64, height: 64, fit: 'contain', layout: 'nchw', background: 'gray' },
        { decoder: 'yolo', output: 'output0' },
        8,
      ],
    );
    const t = await startTestApp({ LATHE_MODELS_DIR: dir });
    try {
      const res = await request(t.server)
        .post('/v1/vision/detect?model=yolo')
        .set('content-type', 'image/png')
        .send((await noisePng()).png);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const objects = res.body as Array<{ label: string; box: { xmin: number; ymin: number; xmax: number; ymax: number } }>;
      assert.deepEqual(
        objects.map((o) => o.label),
        EXPECTED.map((e) => YOLO_LABELS[e.classIndex]),
      );
      objects.forEach((o, i) =>
        [o.box.xmin, o.box.ymin, o.box.xmax, o.box.ymax].forEach((v, k) =>
          assert.ok(Math.abs(v - EXPECTED[i]!.box[k]!) <= 1, JSON.stringify(o)),
        ),
      );
    } finally {
      await t.close();
    }
  });

  it('resumes a dropped download with a Range request and fetches no byte twice', async () => {
    const dir = await newModelsDir();
    hub.faults = [{ kind: 'drop', path: WEIGHTS }];
    const seen = cdnRequests(WEIGHTS).length;
    const { code, stderr } = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'resumed']);
    hub.faults = [];
    assert.equal(code, 0, stderr);
    const size = tinyClassifierRepo(REPO).files.find((f) => f.path === WEIGHTS)!.content.length;
    const half = Math.floor(size / 2);
    const attempts = cdnRequests(WEIGHTS).slice(seen);
    assert.deepEqual(
      attempts.map((r) => [r.headers.range, r.status, r.bodyBytes]),
      [
        [undefined, 200, half],
        [`bytes=${half}-`, 206, size - half],
      ],
    );
    assert.match(
      stderr,
      new RegExp(`${WEIGHTS}: connection lost after ${half} bytes: .* \\(${hub.endpoint}/cdn/[0-9a-f]{64}\\); retrying`),
    );
    assert.equal(await sha256(join(dir, 'resumed', '1', 'hf', WEIGHTS)), hub.sha256Of(REPO, WEIGHTS));
  });

  it('keeps the partial file when it gives up, and the next run resumes it', async () => {
    const dir = await newModelsDir();
    hub.faults = [{ kind: 'drop', path: WEIGHTS, times: 3 }];
    const seen = cdnRequests(WEIGHTS).length;
    const failed = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'later']);
    hub.faults = [];
    assert.equal(failed.code, 69, failed.stderr);
    assert.match(failed.stderr, /\(gave up after 3 attempts\); the partial download is kept: run the pull again to resume\n$/);
    assert.deepEqual(await readdir(dir), ['.staging'], 'nothing installed');
    const partial = join(dir, '.staging', 'blobs', `${hub.sha256Of(REPO, WEIGHTS)}.incomplete`);
    const kept = (await stat(partial)).size;

    const { code, stderr } = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'later']);
    assert.equal(code, 0, stderr);
    const attempts = cdnRequests(WEIGHTS).slice(seen);
    const size = tinyClassifierRepo(REPO).files.find((f) => f.path === WEIGHTS)!.content.length;
    assert.equal(attempts.length, 4);
    assert.deepEqual([attempts[3]!.headers.range, attempts[3]!.status], [`bytes=${kept}-`, 206]);
    assert.equal(
      attempts.reduce((n, r) => n + r.bodyBytes, 0),
      size,
      'every byte was sent once',
    );
    assert.match(stderr, new RegExp(`^${WEIGHTS}: resuming at `, 'm'));
    assert.equal(await sha256(join(dir, 'later', '1', 'hf', WEIGHTS)), hub.sha256Of(REPO, WEIGHTS));
  });

  it('rejects a corrupted file by its hash, deletes it, and installs nothing', async () => {
    const cases = [
      { path: WEIGHTS, problem: `sha256 [0-9a-f]{64}, the Hub lists ${hub.sha256Of(REPO, WEIGHTS)}` },
      { path: 'config.json', problem: 'git blob id [0-9a-f]{40}, the Hub lists [0-9a-f]{40}' },
    ];
    for (const { path, problem } of cases) {
      const dir = await newModelsDir();
      hub.faults = [{ kind: 'corrupt', path }];
      const { code, stdout, stderr } = await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'bad']);
      hub.faults = [];
      assert.equal(code, 65, stderr);
      assert.equal(stdout, '');
      assert.match(stderr, new RegExp(`^lathe: ${path} is corrupt: ${problem}; deleted the download, nothing was installed\\n$`, 'm'));
      assert.deepEqual(await readdir(dir), ['.staging']);
      assert.ok(!(await files(join(dir, '.staging'))).some((f) => f.endsWith('.incomplete')), 'the bad partial is gone');
      assert.equal((await lathe(hub, dir, ['models', 'list'])).stdout, 'no models\n');
    }
  });

  it('lists models with their versions, task, source and size, and removes versions and models', async () => {
    const dir = await newModelsDir();
    assert.equal((await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny'])).code, 0);
    assert.equal((await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny', '--force'])).code, 0);
    assert.equal((await lathe(hub, dir, ['models', 'pull', REPO, '--name', 'tiny32', '--dtype', 'fp32'])).code, 0);
    const short = hub.commitOf(REPO).slice(0, 7);
    const table = (await lathe(hub, dir, ['models', 'list'])).stdout.split('\n');
    assert.match(table[0]!, /^NAME +VERSIONS +TASK +SOURCE +SIZE$/);
    assert.match(table[1]!, new RegExp(`^tiny +1,2 +text-classification +hf:${REPO}@${short} onnx/model_quantized.onnx +\\d+\\.\\d kB$`));
    assert.match(table[2]!, new RegExp(`^tiny32 +1 +text-classification +hf:${REPO}@${short} onnx/model.onnx +\\d+\\.\\d kB$`));
    const listed = JSON.parse((await lathe(hub, dir, ['models', 'list', '--json'])).stdout);
    assert.deepEqual(
      listed.map((m: { name: string; versions: { version: string }[] }) => [m.name, m.versions.map((v) => v.version)]),
      [
        ['tiny', ['1', '2']],
        ['tiny32', ['1']],
      ],
    );

    assert.deepEqual(await lathe(hub, dir, ['models', 'rm', 'tiny', '--version', '1']), {
      code: 0,
      stdout: `removed tiny version 1 from ${dir}\n`,
      stderr: '',
    });
    assert.deepEqual(await readdir(join(dir, 'tiny')), ['2']);
    assert.equal((await lathe(hub, dir, ['models', 'rm', 'tiny32'])).stdout, `removed tiny32 version 1 from ${dir}\n`);
    const missing = await lathe(hub, dir, ['models', 'rm', 'tiny', '--version', '7']);
    assert.deepEqual([missing.code, missing.stderr], [66, `lathe: model "tiny" has no version 7 in ${dir} (it has 2)\n`]);
    assert.deepEqual((await readdir(dir)).sort(), ['.staging', 'tiny']);
  });

  it('answers Hub and network failures with exit codes and messages a user can act on', async () => {
    const dir = await newModelsDir();
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases: Array<[string, string[], { hfToken?: string; hfEndpoint?: string }, number, RegExp]> = [
      [
        'unknown repo',
        ['lathe-test/nope'],
        {},
        66,
        /^lathe: no such model on the Hub: lathe-test\/nope \(.*answered 401; if it is private, set HF_TOKEN/,
      ],
      ['unknown revision', [REPO, '--revision', 'v9'], {}, 66, /^lathe: lathe-test\/tiny-classifier has no revision "v9"/],
      [
        'gated, no token',
        [GATED],
        {},
        77,
        /^lathe: lathe-test\/gated-classifier is gated: accept its conditions on the Hub, then set HF_TOKEN/,
      ],
      ['bad token', [REPO], { hfToken: 'hf_wrong' }, 77, /^lathe: the Hub rejected HF_TOKEN as invalid credentials/],
      [
        'missing dtype',
        [REPO, '--dtype', 'fp16'],
        {},
        66,
        /^lathe: lathe-test\/tiny-classifier has no fp16 ONNX weights \(onnx\/model_fp16\.onnx\); it has fp32, q8 \(use --dtype\)$/,
      ],
      [
        'no Hub there',
        [REPO],
        { hfEndpoint: closed },
        69,
        new RegExp(`network error fetching ${closed}/api/models/${REPO}/revision/main\\?blobs=true: ECONNREFUSED`),
      ],
      ['bad name', [REPO, '--name', '../x'], {}, 64, /^lathe: "\.\.\/x" is not a model name/],
    ];
    for (const [what, args, env, exitCode, message] of cases) {
      const { code, stderr } = await lathe(hub, dir, ['models', 'pull', ...args], env);
      assert.equal(code, exitCode, `${what}: ${stderr}`);
      assert.match(stderr, new RegExp(message.source, 'm'), what);
      assert.ok(!stderr.includes('hf_wrong'), 'the token is never printed');
    }
    const gated = await lathe(hub, dir, ['models', 'pull', GATED, '--name', 'gated'], { hfToken: 'hf_test_token' });
    assert.equal(gated.code, 0, gated.stderr);
  });

  it('sends HF_TOKEN to the Hub only, never to a CDN on another host, and never prints it', async () => {
    const token = 'hf_secret_0123456789';
    const privateHub = await FakeHub.start([{ ...tinyClassifierRepo(REPO), private: true }], { token, separateCdn: true });
    try {
      const dir = await newModelsDir();
      const { code, stdout, stderr } = await lathe(privateHub, dir, ['models', 'pull', REPO], { hfToken: token });
      assert.equal(code, 0, stderr);
      assert.ok(!`${stdout}${stderr}`.includes(token));
      const byServer = (server: string) => privateHub.requests.filter((r) => r.server === server);
      assert.equal(byServer('cdn').length, 2, 'the .onnx and its external data came from the CDN');
      assert.ok(byServer('hub').every((r) => r.headers.authorization === `Bearer ${token}`));
      assert.ok(byServer('cdn').every((r) => r.headers.authorization === undefined));
    } finally {
      await privateHub.close();
    }
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/lathe-cli.js';
import { FakeHub, type FakeRepo, tinyClassifierRepo } from '../support/fake-hub.js';
import { makeTempDir } from '../support/processes.js';

const REPO = 'lathe-test/tiny-classifier';
const WEIGHTS = 'onnx/model_quantized.onnx_data';

/** Runs the CLI in this process (fast retries), capturing what it prints. */
async function lathe(hub: FakeHub, modelsDir: string, args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    { modelsDir, hfEndpoint: hub.endpoint },
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
    { retry: { retries: 1, backoffMs: 5 } },
  );
  return { code, stdout, stderr };
}

/** Every entry under `dir` except `skip`, with content (files), target (links) and mtime: what must not change. */
async function snapshot(dir: string, skip: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (prefix === '' && name === skip) continue;
    const path = join(dir, name);
    const info = await lstat(path);
    if (info.isSymbolicLink()) out.push(`${prefix}${name} -> ${await readlink(path)}`);
    else if (info.isDirectory()) out.push(`${prefix}${name}/ ${info.mtimeMs}`, ...(await snapshot(path, skip, `${prefix}${name}/`)));
    else out.push(`${prefix}${name} ${info.mtimeMs} ${(await readFile(path)).toString('hex')}`);
  }
  return out;
}

const gitOid = (content: Buffer) => createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');

/** The tiny classifier, listed with one sibling rewritten (or one added) by `change`. */
function hostile(id: string, change: (siblings: Array<Record<string, unknown>>) => unknown[]): FakeRepo {
  return { ...tinyClassifierRepo(id), listing: change };
}
const edit = (path: string, fields: Record<string, unknown>) => (siblings: Array<Record<string, unknown>>) =>
  siblings.map((s) => (s.rfilename === path ? { ...s, ...fields } : s));
const extra = (sibling: Record<string, unknown>) => (siblings: Array<Record<string, unknown>>) => [...siblings, sibling];

describe('lathe models pull against a hostile mirror or a tampered model folder', () => {
  let hub: FakeHub;
  const dirs: string[] = [];
  /** `<tmp>/models` is the repository; `<tmp>/sentinel.txt` and `<tmp>/outside/` must survive every case. */
  const sandbox = async () => {
    const tmp = await makeTempDir('lathe-hostile-');
    dirs.push(tmp);
    await mkdir(join(tmp, 'models'));
    await writeFile(join(tmp, 'sentinel.txt'), 'keep me\n');
    await mkdir(join(tmp, 'outside', '1'), { recursive: true });
    await writeFile(join(tmp, 'outside', '1', 'keep.txt'), 'keep me too\n');
    return { tmp, models: join(tmp, 'models') };
  };
  const listingCases: Array<[string, FakeRepo, string]> = [
    [
      'a ../ path',
      hostile('evil/traversal', extra({ rfilename: '../../x', size: 1, blobId: 'a'.repeat(40) })),
      'file name "../../x" has a "." or ".." segment',
    ],
    ['an absolute path', hostile('evil/absolute', extra({ rfilename: '/tmp/x', size: 1 })), 'file name "/tmp/x" is absolute'],
    [
      'a backslash path',
      hostile('evil/backslash', extra({ rfilename: '..\\..\\x', size: 1 })),
      'file name "..\\\\..\\\\x" has a backslash',
    ],
    [
      'a NUL in a name',
      hostile('evil/nul', extra({ rfilename: 'config.json\u0000x', size: 1 })),
      'file name "config.json\\u0000x" has a control character',
    ],
    [
      'a blobId that names the sentinel',
      hostile('evil/blob-id', edit('config.json', { blobId: '../../../sentinel.txt' })),
      '"config.json": blobId "../../../sentinel.txt" is not a git object id (40 or 64 lowercase hex)',
    ],
    [
      'a blobId of ../../etc',
      hostile('evil/blob-etc', edit('config.json', { blobId: '../../etc' })),
      '"config.json": blobId "../../etc" is not a git object id (40 or 64 lowercase hex)',
    ],
    [
      'an lfs.sha256 of ../..',
      hostile('evil/lfs', edit(WEIGHTS, { lfs: { sha256: '../..', size: 10 } })),
      `"${WEIGHTS}": lfs.sha256 "../.." is not a sha256 (64 lowercase hex)`,
    ],
  ];

  before(async () => {
    hub = await FakeHub.start([tinyClassifierRepo(REPO), ...listingCases.map(([, repo]) => repo)]);
  });
  after(async () => {
    await hub.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a listing whose names could reach outside the models folder (exit 65), and touches nothing outside', async () => {
    for (const [what, repo, problem] of listingCases) {
      const { tmp, models } = await sandbox();
      // The sentinel sits where a `blobId` of ../../../sentinel.txt lands from the staging folder.
      if (what.includes('sentinel')) await mkdir(join(models, '.staging', 'blobs'), { recursive: true });
      const before = await snapshot(tmp, 'models');
      const { code, stdout, stderr } = await lathe(hub, models, ['models', 'pull', repo.id, '--name', 'tiny']);
      const url = `${hub.endpoint}/api/models/${repo.id}/revision/main?blobs=true`;
      assert.deepEqual(
        { code, stdout, stderr },
        { code: 65, stdout: '', stderr: `lathe: ${url}: refused the listing: ${problem}; nothing was downloaded\n` },
        what,
      );
      assert.deepEqual(await snapshot(tmp, 'models'), before, what);
      assert.equal(await readFile(join(tmp, 'sentinel.txt'), 'utf8'), 'keep me\n', what);
      const resolves = hub.requests.filter((r) => r.url.startsWith(`/${repo.id}/resolve/`));
      assert.deepEqual(resolves, [], `${what}: no file was fetched`);
    }
  });

  it('refuses to write, rename or delete through a symbolic link planted in the models folder (exit 73)', async () => {
    const repo = tinyClassifierRepo(REPO);
    const configOid = gitOid(repo.files.find((f) => f.path === 'config.json')!.content);
    const weightsSha = hub.sha256Of(REPO, WEIGHTS);
    const cases: Array<[string, string, (tmp: string) => string, string[]]> = [
      ['.staging', '.staging', (tmp) => join(tmp, 'outside'), ['pull', REPO, '--name', 'tiny']],
      ['.staging/blobs', '.staging/blobs', (tmp) => join(tmp, 'outside'), ['pull', REPO, '--name', 'tiny']],
      [
        'a partial download',
        `.staging/blobs/${weightsSha}.incomplete`,
        (tmp) => join(tmp, 'sentinel.txt'),
        ['pull', REPO, '--name', 'tiny'],
      ],
      ['a finished download', `.staging/blobs/${configOid}`, (tmp) => join(tmp, 'sentinel.txt'), ['pull', REPO, '--name', 'tiny']],
      ['the model folder, on install', 'tiny', (tmp) => join(tmp, 'outside'), ['pull', REPO, '--name', 'tiny']],
      ['the model folder, on rm', 'tiny', (tmp) => join(tmp, 'outside'), ['rm', 'tiny', '--version', '1']],
    ];
    for (const [what, link, target, args] of cases) {
      const { tmp, models } = await sandbox();
      await mkdir(join(models, link, '..'), { recursive: true });
      await symlink(target(tmp), join(models, link));
      const before = await snapshot(tmp, 'models');
      const { code, stdout, stderr } = await lathe(hub, models, ['models', ...args]);
      const message = `lathe: refused: ${join(models, link)} is a symbolic link inside the model repository ${models}; lathe writes there only through real folders and files (remove the link)\n`;
      assert.deepEqual(
        {
          code,
          stdout,
          stderr:
            stderr
              .split('\n')
              .filter((l) => l.startsWith('lathe: '))
              .join('\n') + '\n',
        },
        { code: 73, stdout: '', stderr: message },
        what,
      );
      assert.deepEqual(await snapshot(tmp, 'models'), before, what);
      assert.equal(await readFile(join(tmp, 'sentinel.txt'), 'utf8'), 'keep me\n', what);
      assert.equal(await readFile(join(tmp, 'outside', '1', 'keep.txt'), 'utf8'), 'keep me too\n', what);
    }
  });

  it('still pulls into a models folder that is itself a symbolic link (the user chose it)', async () => {
    const { tmp, models } = await sandbox();
    const linked = join(tmp, 'models-link');
    await symlink(models, linked);
    const { code, stdout, stderr } = await lathe(hub, linked, ['models', 'pull', REPO, '--name', 'tiny']);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      new RegExp(`^pulled ${REPO}@[0-9a-f]{7} as tiny version 1 \\(text-classification, 6 files\\) in ${join(linked, 'tiny', '1')}\\n$`),
    );
    assert.deepEqual(await readdir(join(models, 'tiny', '1')), ['hf', 'model.json', 'origin.json']);
  });
});

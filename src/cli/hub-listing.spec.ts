import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError } from './cli-error.js';
import { checkInfo, pathProblem, siblingProblem } from './hub-listing.js';

const SHA = 'a'.repeat(40);
const URL = 'http://hub/api/models/o/r/revision/main?blobs=true';

describe('hub listing checks', () => {
  it('accepts the paths repositories use', () => {
    for (const path of [
      'config.json',
      'onnx/model_quantized.onnx_data_1',
      '1_Pooling/config.json',
      'README_中文.md',
      'a b/(x) [1]+v2@=~.txt',
    ]) {
      assert.equal(pathProblem(path), undefined, path);
    }
  });

  it('names what is wrong with a path that could leave the model folder', () => {
    const cases: Array<[string, string]> = [
      ['', 'is empty'],
      ['../../x', 'has a "." or ".." segment'],
      ['onnx/../../x', 'has a "." or ".." segment'],
      ['./x', 'has a "." or ".." segment'],
      ['/etc/passwd', 'is absolute'],
      ['onnx\\..\\..\\x', 'has a backslash'],
      ['x\u0000.json', 'has a control character'],
      ['x\n.json', 'has a control character'],
      ['onnx//x', 'has an empty segment'],
      ['onnx/', 'has an empty segment'],
      ['x'.repeat(513), 'is longer than 512 characters'],
      [`${'x'.repeat(256)}/y`, 'has a segment longer than 255 characters'],
      ['x:y', "has a character outside letters, digits, space and ._-+@=,~()[]#%&!'$"],
      ['x\u202e.json', "has a character outside letters, digits, space and ._-+@=,~()[]#%&!'$"],
    ];
    for (const [path, problem] of cases) assert.equal(pathProblem(path), problem, JSON.stringify(path));
  });

  it('requires blob ids, sha256s and sizes in the shapes the Hub gives them', () => {
    const ok = { rfilename: 'x.onnx', size: 3, blobId: 'b'.repeat(40), lfs: { sha256: 'c'.repeat(64), size: 3 } };
    assert.equal(siblingProblem(ok), undefined);
    assert.equal(siblingProblem({ ...ok, blobId: 'd'.repeat(64) }), undefined);
    const cases: Array<[object, string]> = [
      [{ blobId: '../../etc' }, '"x.onnx": blobId "../../etc" is not a git object id (40 or 64 lowercase hex)'],
      [{ blobId: 'B'.repeat(40) }, `"x.onnx": blobId "${'B'.repeat(40)}" is not a git object id (40 or 64 lowercase hex)`],
      [{ blobId: 7 }, '"x.onnx": blobId 7 is not a git object id (40 or 64 lowercase hex)'],
      [{ lfs: { sha256: '../..', size: 3 } }, '"x.onnx": lfs.sha256 "../.." is not a sha256 (64 lowercase hex)'],
      [{ lfs: { sha256: 'c'.repeat(40), size: 3 } }, `"x.onnx": lfs.sha256 "${'c'.repeat(40)}" is not a sha256 (64 lowercase hex)`],
      [{ lfs: { sha256: 'c'.repeat(64), size: -1 } }, '"x.onnx": lfs.size -1 is not a byte count'],
      [{ lfs: null }, '"x.onnx": lfs is not an object'],
      [{ size: 1.5 }, '"x.onnx": size 1.5 is not a byte count'],
    ];
    for (const [change, problem] of cases) assert.equal(siblingProblem({ ...ok, ...change } as never), problem);
  });

  it('refuses the whole listing with a data error (exit 65) naming the entry', () => {
    const info = { sha: SHA, siblings: [{ rfilename: 'config.json' }, { rfilename: '../../x' }] };
    assert.throws(
      () => checkInfo(info, URL),
      (err: unknown) =>
        err instanceof CliError &&
        err.exitCode === 65 &&
        err.message === `${URL}: refused the listing: file name "../../x" has a "." or ".." segment; nothing was downloaded`,
    );
    assert.deepEqual(checkInfo({ id: 'o/r', sha: SHA, siblings: [{ rfilename: 'config.json' }] }, URL), {
      id: 'o/r',
      sha: SHA,
      siblings: [{ rfilename: 'config.json' }],
      cardData: undefined,
    });
  });
});

/**
 * `lathe models pull` of an encoder-decoder translation repository (the generated Marian-layout
 * translator, served by the fake Hub on 127.0.0.1): the manifest it writes loads, and the
 * translation route answers with the translation known by construction.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { runCli } from '../../src/cli/lathe-cli.js';
import { startTestApp } from '../support/app.js';
import { FakeHub } from '../support/fake-hub.js';
import { makeTempDir } from '../support/processes.js';
import { type Seq2SeqFixture, writeSeq2SeqFixture } from '../support/seq2seq-fixture.js';

const REPO = 'lathe-test/opus-mt-tiny';
const FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/encoder_model.onnx',
  'onnx/decoder_model_merged.onnx',
];

describe('lathe models pull of a Marian-layout translation model', () => {
  let root: string;
  let hub: FakeHub;
  let fixture: Seq2SeqFixture;

  before(async () => {
    root = await makeTempDir('lathe-seq2seq-pull-');
    fixture = await writeSeq2SeqFixture(join(root, 'repo'), 'marian');
    const files = await Promise.all(FILES.map(async (path) => ({ path, content: await readFile(join(fixture.dir, path)) })));
    hub = await FakeHub.start([{ id: REPO, files, cardData: { license: 'cc-by-4.0' } }]);
  });

  after(async () => {
    await hub?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('writes a translation manifest (encoder as its file, merged decoder beside it) that the translation route serves', async () => {
    const models = join(root, 'models');
    let stderr = '';
    const code = await runCli(
      ['models', 'pull', REPO, '--name', 'opus', '--dtype', 'fp32'],
      { modelsDir: models, hfEndpoint: hub.endpoint },
      { stdout: { write: () => undefined }, stderr: { write: (s: string) => (stderr += s) } },
      { retry: { retries: 1, backoffMs: 5 } },
    );
    assert.equal(code, 0, stderr);
    const manifest = JSON.parse(await readFile(join(models, 'opus', '1', 'model.json'), 'utf8'));
    assert.deepEqual(
      [manifest.task, manifest.runtime, manifest.source, manifest.parameters],
      [
        'translation',
        undefined,
        { huggingface: 'hf', file: 'onnx/encoder_model.onnx' },
        { dtype: 'fp32', decoder: { huggingface: 'hf', file: 'onnx/decoder_model_merged.onnx' } },
      ],
    );
    const t = await startTestApp({ LATHE_MODELS_DIR: models });
    try {
      const text = 'the small cat and the big dog';
      const res = await request(t.server)
        .post('/v1/text/translation')
        .send({ model: 'opus', inputs: [text, 'hello world'] });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, [{ translation_text: 'die klein katze und die gross hund' }, { translation_text: 'hallo welt' }]);
      assert.equal(fixture.expected(text), 'die klein katze und die gross hund');
    } finally {
      await t.close();
    }
  });
});

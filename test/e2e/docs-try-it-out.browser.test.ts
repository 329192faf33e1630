import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import request from 'supertest';
import { SAMPLE_PNG, SAMPLE_WAV } from '../../src/tasks/media-examples.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { CHROMIUM, launchChromium } from '../support/browser.js';
import { type FileBody, type JobBody, jsonl, topicExamples, uploadFile, waitForStatus } from '../support/fine-tuning.js';
import { HAVE_SHARED_MODELS, SHARED_MODELS } from '../support/media.js';
import { writeExampleModels } from '../support/example-models.js';
import { vitsManifest, writeVitsFixture } from '../support/vits-fixture.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir, ROOT } from '../support/processes.js';

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (apt-get install chromium); .ci/run installs it`
  : !HAVE_SHARED_MODELS
    ? `the keyword-spotting model file is not in ${SHARED_MODELS} (LATHE_TEST_SHARED_MODELS)`
    : false;

interface Operation {
  method: string;
  path: string;
  operationId: string;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema?: { properties?: Record<string, { format?: string }> } }> };
  responses: Record<string, unknown>;
}

/** The models the document's examples name, under those names: shipped ones and generated Hugging Face-layout fixtures. */
async function exampleRepository(root: string): Promise<string> {
  const dir = join(root, 'models');
  for (const name of await readdir(join(ROOT, 'models'))) await cp(join(ROOT, 'models', name), join(dir, name), { recursive: true });
  await writeExampleModels(dir, root);
  await writeManifest(dir, 'mms-tts-eng', vitsManifest(await writeVitsFixture(join(root, 'vits'))));
  return dir;
}

/** The file a declared file field gets: the kind of media the route reads. */
function fileFor(op: Operation, field: string): { name: string; mimeType: string; buffer: Buffer } {
  if (op.path === '/v1/files') return { name: 'topics.jsonl', mimeType: 'application/jsonl', buffer: jsonl(topicExamples(4)) };
  if (field === 'image') return { name: 'x.png', mimeType: 'image/png', buffer: Buffer.from(SAMPLE_PNG, 'base64') };
  return { name: 'tone.wav', mimeType: 'audio/wav', buffer: Buffer.from(SAMPLE_WAV, 'base64') };
}

/**
 * Operations that change state run where their effect is wanted: uploads and job creation first
 * (later operations use their ids), model loading before readiness, cancelling, deleting and
 * unloading last.
 */
function rank(op: Operation): number {
  const key = `${op.method} ${op.path}`;
  const order = [
    'POST /v1/files',
    'POST /v1/fine_tuning/jobs',
    'POST /v2/repository/models/{model}/load',
    'POST /v1/fine_tuning/jobs/{id}/cancel',
    'DELETE /v1/files/{id}',
    'DELETE /v1/models/{model}',
    'POST /v2/repository/models/{model}/unload',
  ];
  const i = order.indexOf(key);
  if (i < 0) return 3;
  return i < 3 ? i : i + 10;
}

describe("Swagger UI's Try it out, on every operation, with the document's own examples", { skip }, () => {
  let root: string;
  let t: TestApp;
  let base: string;
  let browser: Browser | undefined;
  before(async () => {
    root = await makeTempDir('lathe-docs-');
    t = await startTestApp({ LATHE_MODELS_DIR: await exampleRepository(root), LATHE_MODEL_FILES_DIR: SHARED_MODELS });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = await t.app.getUrl();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers every operation with its documented success status', async (t2) => {
    const document = (await (await fetch(`${base}/docs-json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    const operations = Object.entries(document.paths)
      .filter(([path]) => !path.startsWith('/test/'))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })))
      .sort((a, b) => rank(a) - rank(b));
    const page = await browser!.newPage();
    await page.goto(`${base}/docs`);
    await page.waitForSelector('.opblock-summary-path', { timeout: 15_000 });

    // State the examples cannot hold: the uploaded file's id, a finished job (its artifact), a job to cancel.
    const ids: Record<string, string> = {};
    const exercised: string[] = [];
    for (const op of operations) {
      const key = `${op.method} ${op.path}`;
      if (key === 'GET /v1/artifacts/{id}' || key === 'GET /v1/fine_tuning/jobs/{id}/checkpoints' || key === 'DELETE /v1/models/{model}')
        await jobFinished(ids);
      if (key === 'POST /v1/fine_tuning/jobs/{id}/cancel') ids.cancel = await queuedJob(ids);
      if (key === 'DELETE /v1/files/{id}') await request(t.server).post(`/v1/fine_tuning/jobs/${ids.blocker}/cancel`).expect(200);
      const success = Object.keys(op.responses).find((s) => /^2/.test(s));
      assert.ok(success, `${key} documents a success status`);
      const started = Date.now();
      const { status, body } = await tryItOut(page, op, pathValues(op, ids), ids.file);
      t2.diagnostic(`${key}: ${status} in ${Date.now() - started} ms`);
      assert.equal(status, Number(success), `${key}: ${body.slice(0, 500)}`);
      if (key === 'POST /v1/files') ids.file = (JSON.parse(body) as FileBody).id;
      if (key === 'POST /v1/fine_tuning/jobs') ids.job = (JSON.parse(body) as JobBody).id;
      exercised.push(key);
    }
    assert.equal(exercised.length, operations.length);
    assert.equal(new Set(exercised).size, 74, 'every operation of the document, once');
  });

  /** Values for path parameters that name state: everything else keeps the document's example. */
  function pathValues(op: Operation, ids: Record<string, string>): Record<string, string> {
    if (op.path === '/v1/artifacts/{id}') return { id: ids.artifact! };
    // The model the browser's job made: the only kind of model that can be deleted.
    if (op.method === 'DELETE' && op.path === '/v1/models/{model}') return { model: ids.model! };
    if (op.path.endsWith('/cancel')) return { id: ids.cancel! };
    if (op.path.startsWith('/v1/fine_tuning/jobs/{id}')) return { id: ids.job! };
    if (op.path.startsWith('/v1/files/{id}')) return { id: ids.file! };
    return {};
  }

  /** Waits for the job the browser created to succeed; its head artifact is then downloadable. */
  async function jobFinished(ids: Record<string, string>): Promise<void> {
    if (ids.artifact) return;
    const job = await waitForStatus(t.server, ids.job!, ['succeeded', 'failed', 'cancelled'], 120_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    ids.artifact = (job as unknown as { head_artifact_id: string }).head_artifact_id;
    ids.model = job.fine_tuned_model!;
  }

  /** A job that cannot have started: one runner, busy with a long job created just before it. */
  async function queuedJob(ids: Record<string, string>): Promise<string> {
    const big = ((await uploadFile(t.server, jsonl(topicExamples(500, 7)))).body as FileBody).id;
    const create = (file: string, epochs: number) =>
      request(t.server)
        .post('/v1/fine_tuning/jobs')
        .send({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: epochs } });
    ids.blocker = ((await create(big, 1000)).body as JobBody).id;
    return ((await create(ids.file!, 1)).body as JobBody).id;
  }
});

/** Expands the operation, presses Try it out, fills what the document cannot know, presses Execute and reads the answer. */
async function tryItOut(
  page: Page,
  op: Operation,
  pathValues: Record<string, string>,
  fileId: string | undefined,
): Promise<{ status: number; body: string }> {
  const block = page
    .locator('.opblock')
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${op.path}"]`) })
    .filter({ has: page.locator('.opblock-summary-method', { hasText: new RegExp(`^${op.method}$`) }) });
  assert.equal(await block.count(), 1, `${op.method} ${op.path} is shown once`);
  await block.locator('.opblock-summary').click();
  await block.locator('.try-out__btn').click();
  for (const [name, value] of Object.entries(pathValues))
    await block.locator(`tr[data-param-name="${name}"][data-param-in="path"] input`).fill(value);
  const content = op.requestBody?.content ?? {};
  if ('multipart/form-data' in content) await fillForm(block, op, content['multipart/form-data']!.schema?.properties ?? {});
  else if (op.path === '/v1/fine_tuning/jobs' && op.method === 'POST') {
    const text = block.locator('textarea.body-param__text');
    const example = JSON.parse(await text.inputValue()) as { training_file: string };
    // The example names a file id; this server's file is the one uploaded a moment ago.
    await text.fill(JSON.stringify({ ...example, training_file: fileId }));
  }
  await block.locator('.execute').click();
  const status = block.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 120_000 });
  const body = (await block.locator('.live-responses-table .response-col_description .highlight-code pre').allTextContents()).join('');
  const code = Number((await status.textContent())!.trim());
  // Collapsed again, so the page stays short and the next operation's summary is where it was.
  await block.locator('.opblock-summary').click();
  return { status: code, body };
}

async function fillForm(block: Locator, op: Operation, properties: Record<string, { format?: string }>): Promise<void> {
  await block.locator('.opblock-section-request-body select').first().selectOption('multipart/form-data');
  for (const [name, property] of Object.entries(properties)) {
    if (property.format !== 'binary') continue;
    await block.locator(`tr[data-property-name="${name}"] input[type=file]`).setInputFiles(fileFor(op, name));
  }
}

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import request from 'supertest';
import { hashApiKey } from '../../src/config/api-keys.js';
import { CONSOLE_BUNDLE_DIR } from '../../src/console/console-assets.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { CHROMIUM } from '../support/browser.js';
import { openWatchedPage, SCREENSHOT_DIR, screenshots, until, type WatchedPage } from '../support/console-browser.js';
import { jsonl, topicExamples } from '../support/fine-tuning.js';
import { HAVE_SHARED_MODELS, SHARED_MODELS } from '../support/media.js';
import { renderOcrCases } from '../support/ocr-images.js';
import { writeExampleModels } from '../support/example-models.js';
import { makeTempDir, ROOT } from '../support/processes.js';
import { ESPEAK, speechScene, wavFile } from '../support/speech-audio.js';

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (apt-get install chromium); .ci/run installs it`
  : !HAVE_SHARED_MODELS
    ? `MobileNetV2 is not in ${SHARED_MODELS} (LATHE_TEST_SHARED_MODELS)`
    : !existsSync(ESPEAK)
      ? `${ESPEAK} is missing (apt-get install espeak-ng)`
      : !existsSync(join(CONSOLE_BUNDLE_DIR, 'app.js'))
        ? 'the console bundle is not built (npm run build)'
        : false;

const SHIPPED = [
  'mobilenetv2',
  'paddleocr-det',
  'paddleocr-cls',
  'paddleocr-rec',
  'silero-vad',
  'keyword-spotting',
  'glove-100d',
  'blazeface-front',
];
const EPOCHS = 6;
const SENTENCES = ['The cat sat on the mat.', 'A kitten rested on the rug.', 'Stock markets fell sharply today.'];

/** Shipped manifests plus generated Hugging Face-layout models: a text classifier, an entity tagger, a chat model. */
async function repository(root: string): Promise<string> {
  const dir = join(root, 'models');
  for (const name of SHIPPED) await cp(join(ROOT, 'models', name), join(dir, name), { recursive: true });
  await writeExampleModels(dir, root);
  return dir;
}

const panel = (page: Page, id: string): Locator => page.locator(`section[aria-labelledby="${id}"]`);
const button = (scope: Locator, name: string) => scope.getByRole('button', { name, exact: true });
const texts = (l: Locator) => l.allTextContents();

describe('Lathe Console in a real browser against a real server', { skip }, () => {
  const admin = `lathe_${randomBytes(16).toString('hex')}`;
  const reader = `lathe_${randomBytes(16).toString('hex')}`;
  let root: string;
  let t: TestApp;
  let base: string;
  let w: WatchedPage;
  let page: Page;
  const api = (method: 'get' | 'post', path: string, key = admin) => request(t.server)[method](path).set('authorization', `Bearer ${key}`);

  before(async () => {
    root = await makeTempDir('lathe-console-');
    t = await startTestApp({
      LATHE_MODELS_DIR: await repository(root),
      LATHE_MODEL_FILES_DIR: SHARED_MODELS,
      LATHE_MODELS_PRELOAD: '*',
      LATHE_API_KEYS: `ops:${hashApiKey(admin)}:admin,reader:${hashApiKey(reader)}:infer`,
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = await t.app.getUrl();
    w = await openWatchedPage(base);
    page = w.page;
    await rm(SCREENSHOT_DIR, { recursive: true, force: true });
  });
  after(async () => {
    await w?.browser.close();
    await t?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('asks for a key, says when it is wrong, and signs in', async () => {
    await page.goto(`${base}/console`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshots(page, 'sign-in');
    await page.getByLabel('API key').fill('lathe_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'INVALID_API_KEY' }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('lathe.console.apiKey')"), null, 'a wrong key is not kept');
    assert.ok(!page.url().includes('lathe_'), 'the key is never in the URL');
  });

  it('a key without the train scope sees the fine-tuning actions disabled with the reason; the server refuses them if forced', async () => {
    await page.getByLabel('API key').fill(reader);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.signed-in').filter({ hasText: 'key reader: infer' }).waitFor();
    const unload = page.locator('#models-view tr[data-model="glove-100d"]').getByRole('button', { name: 'Unload' });
    await unload.waitFor();
    assert.equal(await unload.isDisabled(), true);
    assert.equal(
      await page.locator(`#${await unload.getAttribute('aria-describedby')}`).textContent(),
      'needs the manage scope; this key has infer',
    );
    await page.goto(`${base}/console#fine-tuning`);
    const view = page.locator('#fine-tuning-view');
    await view.locator('.notice').filter({ hasText: 'Fine-tuning needs the train scope' }).waitFor();
    for (const name of ['Upload', 'Start fine-tuning', 'Compare runs']) {
      assert.equal(await button(view, name).isDisabled(), true, `${name} disabled`);
      const reason = await view.locator(`#${await button(view, name).getAttribute('aria-describedby')}`).textContent();
      assert.equal(reason, 'needs the train scope; this key has infer');
    }
    await screenshots(page, 'fine-tuning-without-train');
    // Forced: the button enabled by hand still meets the server's 403.
    await view
      .getByLabel('Dataset (JSON Lines)')
      .setInputFiles({ name: 'topics.jsonl', mimeType: 'application/jsonl', buffer: jsonl(topicExamples(2)) });
    await button(view, 'Upload').evaluate((b) => b.removeAttribute('disabled'));
    await button(view, 'Upload').click();
    await view.locator('.status.error').filter({ hasText: 'INSUFFICIENT_SCOPE: The API key "reader" lacks the "train" scope' }).waitFor();
    const files = await api('get', '/v1/files', admin);
    assert.deepEqual(files.body.data, [], 'nothing was stored');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.signed-in').filter({ hasText: 'key ops: admin' }).waitFor();
  });

  it('lists every model with its task, state and execution provider', async () => {
    const listed = (await api('get', '/v1/models')).body.data as Array<{ id: string; task: string }>;
    assert.equal(listed.length, SHIPPED.length + 10);
    const rows = page.locator('#models-view tbody tr');
    await until(async () => (await rows.count()) === listed.length, 'a row per model');
    for (const m of listed) {
      const row = page.locator(`#models-view tr[data-model="${m.id}"]`);
      assert.deepEqual(await texts(row.locator('th, td').nth(1)), [m.task]);
      assert.equal(await row.locator('td.state').textContent(), 'READY', m.id);
      assert.equal(await row.locator('td.provider').textContent(), 'cpu', m.id);
    }
    assert.equal(await rows.count(), listed.length);
    // Unload and load again, as the manage scope (admin holds it) may.
    const row = page.locator('#models-view tr[data-model="keyword-spotting"]');
    await button(row, 'Unload').click();
    await row.locator('td.state').filter({ hasText: 'UNAVAILABLE' }).waitFor();
    assert.equal(await row.locator('td.provider').textContent(), 'not loaded');
    assert.equal((await api('get', '/v1/models/keyword-spotting')).body.state, 'UNAVAILABLE');
    await button(row, 'Load').click();
    await row.locator('td.state').filter({ hasText: 'READY' }).waitFor();
    assert.equal(await row.locator('td.provider').textContent(), 'cpu');
    await screenshots(page, 'models');
  });

  it('classifies the finch photo, draws the OCR boxes, shades the speech, compares three sentences', async () => {
    await page.goto(`${base}/console#try`);
    const image = panel(page, 'try-image');
    const finch = await readFile(join(SHARED_MODELS, 'imagenet_finch.jpeg'));
    await image.getByLabel('Image').setInputFiles({ name: 'finch.jpeg', mimeType: 'image/jpeg', buffer: finch });
    await image.getByLabel('Classifier').selectOption('mobilenetv2');
    await button(image, 'Classify').click();
    await image.locator('.bars li').first().waitFor();
    const labels = await texts(image.locator('.bars .label'));
    assert.equal(labels.length, 5);
    assert.match(labels[0]!, /^house finch/);

    const [invoice] = await renderOcrCases([{ name: 'invoice', font: 'DejaVu Serif', size: 32, lines: ['Invoice 2024: Total $128.50'] }]);
    await image.getByLabel('Image').setInputFiles({ name: 'invoice.png', mimeType: 'image/png', buffer: invoice!.png });
    await button(image, 'Read text').click();
    await image.locator('.ocr-lines li').first().waitFor();
    const ocr = await request(t.server)
      .post('/v1/vision/ocr?model=paddleocr-rec')
      .set('authorization', `Bearer ${admin}`)
      .set('content-type', 'image/png')
      .send(invoice!.png);
    assert.equal(await image.locator('svg.overlay polygon').count(), ocr.body.lines.length);
    assert.equal(ocr.body.lines.length, 1);
    assert.match((await texts(image.locator('.ocr-lines li')))[0]!, /^Invoice 2024: Total \$128\.50/);
    assert.equal(
      await image.locator('svg.overlay polygon').first().getAttribute('points'),
      (ocr.body.lines[0].box as number[][]).map((p) => p.join(',')).join(' '),
    );

    const astronaut = await readFile(join(SHARED_MODELS, 'astronaut.png'));
    await image.getByLabel('Image').setInputFiles({ name: 'astronaut.png', mimeType: 'image/png', buffer: astronaut });
    await button(image, 'Detect').click();
    await image.getByRole('heading', { name: /^Objects/ }).waitFor();
    const detected = (await api('post', '/v1/vision/detect?model=blazeface-front').set('content-type', 'image/png').send(astronaut))
      .body as Array<{
      box: { xmin: number; ymin: number; xmax: number; ymax: number };
    }>;
    assert.ok(detected.length >= 1, 'a face on the astronaut photo');
    const rects = await image
      .locator('svg.overlay rect')
      .evaluateAll((els) => els.map((e) => ['x', 'y', 'width', 'height'].map((k) => Number(e.getAttribute(k)))));
    assert.deepEqual(
      rects,
      detected.map(({ box }) => [box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin]),
    );

    const scene = await speechScene([1, 'the invoice is due on friday', 1.5, 'please call me back tomorrow', 1]);
    const wav = Buffer.from(wavFile(scene.samples));
    const audio = panel(page, 'try-audio');
    await audio.getByLabel('Recording').setInputFiles({ name: 'speech.wav', mimeType: 'audio/wav', buffer: wav });
    await button(audio, 'Find speech').click();
    await audio.locator('.segments li').first().waitFor();
    const vad = await api('post', '/v1/speech/vad?model=silero-vad').set('content-type', 'audio/wav').send(wav);
    assert.equal(vad.body.segments.length, scene.truth.length);
    assert.equal(await audio.locator('.wave-inner .segment').count(), scene.truth.length);
    assert.deepEqual(
      await texts(audio.locator('.segments li')),
      (vad.body.segments as Array<{ start: number; end: number }>).map((s) => `${s.start.toFixed(2)} s – ${s.end.toFixed(2)} s`),
    );

    await button(audio, 'Spot keywords').click();
    await audio.locator('.keywords li').first().waitFor();
    const kws = await api('post', '/v1/speech/keywords?model=keyword-spotting').set('content-type', 'audio/wav').send(wav);
    const windows = kws.body.windows as Array<{ start: number; end: number; scores: Array<{ label: string; score: number }> }>;
    assert.equal(windows.length, Math.ceil(scene.samples.length / 16_000));
    assert.deepEqual(
      await texts(audio.locator('.keywords li')),
      windows.map((w) => `${w.start.toFixed(0)}–${w.end.toFixed(0)} s: ${w.scores[0]!.label} (${w.scores[0]!.score.toFixed(2)})`),
    );
    await audio.getByLabel('Speech recognition model').selectOption('whisper-tiny');
    await button(audio, 'Transcribe').click();
    await audio.locator('.transcript').waitFor();
    const asr = await api('post', '/v1/audio/transcriptions').field('model', 'whisper-tiny').attach('file', wav, 'speech.wav');
    assert.equal(asr.status, 200);
    assert.equal(await audio.locator('.transcript').textContent(), asr.body.text);

    const similarity = panel(page, 'try-similarity');
    await similarity.getByLabel('Sentences, one per line').fill(SENTENCES.join('\n'));
    await similarity.getByLabel('Embedding model').selectOption('glove-100d');
    await button(similarity, 'Compare').click();
    await similarity.locator('td.sim').first().waitFor();
    const cells = await similarity.locator('td.sim').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
    assert.equal(cells.length, 9);
    const vectors = (
      (await api('post', '/v1/embeddings').send({ model: 'glove-100d', input: SENTENCES })).body.data as Array<{ embedding: number[] }>
    ).map((d) => d.embedding);
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    for (let i = 0; i < 3; i += 1)
      for (let j = 0; j < 3; j += 1) assert.ok(Math.abs(cells[i * 3 + j]! - cos(vectors[i]!, vectors[j]!)) < 1e-6, `cell ${i},${j}`);
    assert.ok(cells[1]! > cells[2]!, 'the two cat sentences are closer than cat and markets');
    await screenshots(page, 'try-it');
  });

  it('classifies text and finds entities with generated models', async () => {
    const text = panel(page, 'try-text');
    await text.getByLabel('Text', { exact: true }).fill('what a lovely day');
    await text.getByLabel('Text classifier').selectOption('sentiment');
    await button(text, 'Classify text').click();
    await text.locator('.bars li').first().waitFor();
    const expected = (await api('post', '/v1/text/classify').send({ model: 'sentiment', inputs: 'what a lovely day', top_k: 5 }))
      .body as Array<{ label: string }>;
    assert.deepEqual(
      await texts(text.locator('.bars .label')),
      expected.map((p) => p.label),
    );
    await text.getByLabel('Text', { exact: true }).fill('Ana flew to Paris with Bob');
    await button(text, 'Find entities').click();
    await text.getByRole('heading', { name: /^Entities/ }).waitFor();
    const entities = (
      await api('post', '/v1/text/tokens').send({ model: 'ner', inputs: 'Ana flew to Paris with Bob', aggregation_strategy: 'simple' })
    ).body as unknown[];
    assert.equal(await text.locator('.entities mark').count(), entities.length);
  });

  it('records from the microphone and finds the speech in the recording (WebM/Opus, decoded by the server)', async () => {
    const audio = panel(page, 'try-audio');
    await button(audio, 'Record').click();
    await audio.getByRole('button', { name: 'Stop', exact: true }).waitFor();
    await new Promise((r) => setTimeout(r, 1500));
    await audio.getByRole('button', { name: 'Stop', exact: true }).click();
    await audio.locator('canvas[aria-label^="waveform of recording.webm"]').waitFor();
    const [sent] = await Promise.all([
      page.waitForRequest((r) => r.url().includes('/v1/speech/vad')),
      button(audio, 'Find speech').click(),
    ]);
    const body = sent.postDataBuffer()!;
    assert.equal(sent.headers()['content-type'], 'application/octet-stream');
    assert.deepEqual([...body.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], 'a WebM (EBML) recording');
    const vad = await api('post', '/v1/speech/vad?model=silero-vad').set('content-type', 'application/octet-stream').send(body);
    assert.equal(vad.status, 200);
    assert.ok(vad.body.duration > 1 && vad.body.duration < 10, `recorded ${vad.body.duration} s`);
    await audio
      .getByRole('heading', { name: `Speech segments (${vad.body.segments.length}) in ${vad.body.duration.toFixed(2)} s` })
      .waitFor();
    assert.equal(await audio.locator('.wave-inner .segment').count(), vad.body.segments.length);
  });

  it('chats with the generated model, the reply streamed token by token', async () => {
    const chat = panel(page, 'try-chat');
    await chat.getByLabel('Chat model').selectOption('tiny-chat');
    await chat.getByLabel('Temperature').fill('0');
    await chat.getByLabel('Max tokens').fill('12');
    await chat.getByLabel('Message').fill('Hello there');
    await button(chat, 'Send').click();
    const whole = await api('post', '/v1/chat/completions').send({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'Hello there' }],
      temperature: 0,
      max_tokens: 12,
    });
    const expected = whole.body.choices[0].message.content as string;
    assert.ok(expected.length > 0);
    const reply = chat.locator('.chat .assistant');
    await until(
      async () => (await reply.textContent()) === expected && (await chat.locator('.status').textContent()) === '',
      'the streamed reply',
    );
  });

  it('uploads a dataset, starts a job, draws its loss curve point by point until succeeded, then classifies with the new model', async (tc) => {
    await page.goto(`${base}/console#fine-tuning`);
    const view = page.locator('#fine-tuning-view');
    // Enough work per epoch (batch size 1, an MLP head) that the epochs usually arrive over several polls of the event stream.
    const examples = topicExamples(250);
    const dataset = jsonl([...examples, examples[0]]);
    await view.getByLabel('Dataset (JSON Lines)').setInputFiles({ name: 'topics.jsonl', mimeType: 'application/jsonl', buffer: dataset });
    await button(view, 'Upload').click();
    await view.locator('.validation').waitFor();
    const report = await view.locator('.validation').textContent();
    const n = examples.length + 1;
    assert.match(report!, new RegExp(`: valid, ${n} lines, ${n} examples, 0 errors`));
    // Line by line, as the API reports it: the repeated examples (the last line repeats the first).
    const fileId = await view.getByLabel('Training file').inputValue();
    const validation = (await api('get', `/v1/files/${fileId}`)).body.validation as {
      warnings: Array<{ message: string }>;
      duplicates: { count: number; lines: Array<{ line: number; first_line: number }> };
    };
    assert.deepEqual(validation.duplicates.lines.at(-1), { line: n, first_line: 1 });
    assert.deepEqual(
      await texts(view.locator('.validation .problems li')),
      validation.warnings.map((w) => `file: warning: ${w.message}`),
    );
    assert.equal(await view.locator('.validation .repeats summary').textContent(), `${validation.duplicates.lines.length} repeated lines`);
    assert.deepEqual(
      await texts(view.locator('.validation .repeats li')),
      validation.duplicates.lines.map((d) => `line ${d.line}: repeats line ${d.first_line}`),
    );
    await view.getByLabel('Base model').selectOption('glove-100d');
    await view.getByLabel('Epochs').fill(String(EPOCHS));
    await view.getByLabel('Batch size').fill('1');
    await view.getByLabel('Head').selectOption('mlp');
    await view.getByLabel('Suffix').fill('console');
    // Every change of the loss chart's point count, as the page makes it.
    // Each record holds the value before its change: the values the chart took are the next records' old values, then the last.
    await page.evaluate(`
      window.__points = [];
      window.__times = [];
      new MutationObserver((records) => {
        for (const r of records) if (r.target.classList.contains('loss-chart')) {
          window.__points.push(r.oldValue);
          window.__times.push(Math.round(performance.now()));
        }
      }).observe(document.body, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-points'] });
    `);
    await button(view, 'Start fine-tuning').click();
    const status = view.locator('.job .job-status');
    await status.filter({ hasText: /^(succeeded|failed|cancelled)$/ }).waitFor({ timeout: 120_000 });
    assert.equal(await status.textContent(), 'succeeded', (await view.locator('.job .status').textContent()) ?? '');
    const olds = await page.evaluate<string[]>('window.__points');
    const times = await page.evaluate<number[]>('window.__times');
    tc.diagnostic(`loss chart points drawn at ${times.map((x) => x - times[0]!).join(', ')} ms`);
    // When the points arrive depends on the machine's load (the stream is polled every 500 ms, and a
    // busy browser handles queued chunks together), so it is reported, not asserted; the order is.
    const points = [...olds.slice(1), await view.locator('.loss-chart').getAttribute('data-points')];
    assert.equal(olds[0], '0');
    assert.deepEqual(
      points,
      Array.from({ length: EPOCHS }, (_, i) => String(i + 1)),
      'one point per epoch event, in order',
    );
    assert.equal(await view.locator('.loss-chart').getAttribute('data-series'), `train loss:${EPOCHS},valid loss:${EPOCHS}`);
    const jobId = (await view.locator('.job').getAttribute('data-job'))!;
    const metrics = (await api('get', `/v1/fine_tuning/jobs/${jobId}/metrics`)).body as { steps: unknown[] };
    const rateChart = view.locator('.job figure.chart').nth(2);
    await until(async () => (await rateChart.getAttribute('data-points')) !== '0', 'the learning-rate chart');
    assert.equal(await rateChart.getAttribute('data-points'), String(metrics.steps.length));
    const model = (await api('get', `/v1/fine_tuning/jobs/${jobId}`)).body.fine_tuned_model as string;
    assert.equal(await view.locator('.job .ft-model').textContent(), `model ${model}`);

    const [saved] = await Promise.all([page.waitForEvent('download'), button(view, 'Download the trained head (ONNX)').click()]);
    const job = (await api('get', `/v1/fine_tuning/jobs/${jobId}`)).body as { head_artifact_id: string };
    const artifact = await api('get', `/v1/artifacts/${job.head_artifact_id}`)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });
    assert.equal(saved.suggestedFilename(), `${jobId}-head.onnx`);
    assert.deepEqual(await readFile((await saved.path())!), artifact.body);

    // A second run with another learning rate, compared with the first on one chart.
    const second = await api('post', '/v1/fine_tuning/jobs').send({
      model: 'glove-100d',
      training_file: fileId,
      seed: 7,
      hyperparameters: { n_epochs: EPOCHS, learning_rate: 0.01 },
    });
    await until(
      async () => (await api('get', `/v1/fine_tuning/jobs/${second.body.id}`)).body.status === 'succeeded',
      'the second job',
      60_000,
    );
    await page.goto(`${base}/console#models`);
    await page.goto(`${base}/console#fine-tuning`);
    await view.locator(`tr[data-job="${second.body.id}"]`).waitFor();
    for (const id of [jobId, second.body.id]) await view.getByLabel(`compare ${id}`).check();
    await button(view, 'Compare runs').click();
    const compared = view.locator('.compare figure.chart');
    await compared.waitFor();
    assert.equal(await compared.getAttribute('data-points'), String(EPOCHS));
    assert.equal(
      await compared.getAttribute('data-series'),
      `${second.body.id}:${EPOCHS},${jobId}:${EPOCHS}`,
      "the jobs list's order: newest first",
    );
    await screenshots(page, 'fine-tuning');

    // A long run, cancelled from the page while it is queued or running.
    const long = await api('post', '/v1/fine_tuning/jobs').send({
      model: 'glove-100d',
      training_file: fileId,
      hyperparameters: { n_epochs: 1000, batch_size: 1 },
    });
    assert.equal(long.status, 200);
    await page.goto(`${base}/console#models`);
    await page.goto(`${base}/console#fine-tuning`);
    await button(view.locator(`tr[data-job="${long.body.id}"]`), 'Watch').click();
    const watched = view.locator(`.job[data-job="${long.body.id}"]`);
    await watched
      .locator('.job-status')
      .filter({ hasText: /^(validating_files|queued|running)$/ })
      .waitFor();
    await button(watched, 'Cancel').click();
    await watched.locator('.job-status').filter({ hasText: 'cancelled' }).waitFor();
    assert.equal((await api('get', `/v1/fine_tuning/jobs/${long.body.id}`)).body.status, 'cancelled');
    assert.equal(await button(watched, 'Cancel').isDisabled(), true);
    assert.equal(await watched.locator('.action .scope').first().textContent(), 'the job has ended (cancelled)');

    await page.goto(`${base}/console#try`);
    const text = panel(page, 'try-text');
    await text.getByLabel('Text classifier').selectOption(model);
    await text.getByLabel('Text', { exact: true }).fill('the storm brought heavy rain to the coast');
    await button(text, 'Classify text').click();
    await text.locator('.bars li').first().waitFor();
    const expected = (await api('post', '/v1/text/classify').send({ model, inputs: 'the storm brought heavy rain to the coast', top_k: 5 }))
      .body as Array<{ label: string }>;
    assert.deepEqual(
      await texts(text.locator('.bars .label')),
      expected.map((p) => p.label),
    );

    // The Models view shows where the new model came from.
    const parameters = (await api('get', `/v2/models/${encodeURIComponent(model)}`)).body.parameters as Record<string, string>;
    const lineage = Object.fromEntries(
      Object.entries(parameters)
        .filter(([k]) => k.startsWith('lineage_'))
        .map(([k, v]) => [k.slice('lineage_'.length), v]),
    );
    assert.equal(lineage.job, jobId);
    await page.goto(`${base}/console#models`);
    const row = page.locator(`#models-view tr[data-model="${model}"]`);
    await row.locator('.lineage dl').waitFor();
    assert.deepEqual(await texts(row.locator('.lineage dt')), Object.keys(lineage));
    assert.deepEqual(
      await row.locator('.lineage dd').evaluateAll((dds) => dds.map((dd) => dd.getAttribute('title'))),
      Object.values(lineage).map(String),
    );
  });

  it('made no request to another host, logged no console error and met no CSP violation', async () => {
    assert.deepEqual(w.foreign, []);
    // Chromium logs each refused request; exactly the refusals the test caused, and nothing else.
    const refused = (status: string, path: string) =>
      `Failed to load resource: the server responded with a status of ${status} ${base}${path}`;
    assert.deepEqual(w.consoleErrors, [
      refused('401 (Unauthorized)', '/v1/auth/whoami'), // the first visit, no key yet
      refused('401 (Unauthorized)', '/v1/auth/whoami'), // the wrong key
      refused('403 (Forbidden)', '/v1/files'),
    ]);
    assert.deepEqual(await w.cspViolations(), []);
  });
});

describe('Lathe Console on a server without API keys', { skip }, () => {
  let root: string;
  let t: TestApp;
  let w: WatchedPage;
  before(async () => {
    root = await makeTempDir('lathe-console-open-');
    const dir = join(root, 'models');
    await cp(join(ROOT, 'models', 'glove-100d'), join(dir, 'glove-100d'), { recursive: true });
    t = await startTestApp({ LATHE_MODELS_DIR: dir });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    w = await openWatchedPage(await t.app.getUrl());
  });
  after(async () => {
    await w?.browser.close();
    await t?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('opens without a sign-in, says the server is open, and enables every action', async () => {
    const { page } = w;
    await page.goto(`${await t.app.getUrl()}/console`);
    await page.locator('.signed-in').filter({ hasText: 'open server (no API keys configured)' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    const row = page.locator('#models-view tr[data-model="glove-100d"]');
    await row.waitFor();
    // Not preloaded: it loads on first use, and the page offers to load it.
    assert.equal(await row.locator('td.provider').textContent(), 'not loaded');
    assert.equal(await button(row, 'Load').isEnabled(), true);
    await page.goto(`${await t.app.getUrl()}/console#fine-tuning`);
    const view = page.locator('#fine-tuning-view');
    await button(view, 'Upload').waitFor();
    for (const name of ['Upload', 'Start fine-tuning', 'Compare runs']) assert.equal(await button(view, name).isEnabled(), true, name);
    assert.equal(await view.locator('.notice').textContent(), '');
    assert.deepEqual([w.foreign, w.consoleErrors, await w.cspViolations()], [[], [], []]);
  });
});

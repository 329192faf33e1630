import { postJson } from './api.js';
import { action, bars, busy, clear, dropZone, field, fileInput, h, select, setOptions } from './dom.js';
import { catalog } from './models.js';

const SVG = 'http://www.w3.org/2000/svg';

/** A model picker kept in step with the catalog. */
export function modelPicker(tasks: readonly string[], label = 'Model'): { el: HTMLElement; select: HTMLSelectElement } {
  const sel = select(catalog.named(tasks));
  catalog.onChange(() => setOptions(sel, catalog.named(tasks)));
  return { el: field(label, sel), select: sel };
}

/** A query string of the options that are set. */
function query(options: Record<string, string | number>): string {
  return new URLSearchParams(Object.entries(options).map(([k, v]) => [k, String(v)])).toString();
}

/** The raw body types the media routes name; anything else (a WebM recording, say) goes as octet-stream, which the server sniffs. */
const RAW_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'audio/wav', 'audio/mpeg', 'audio/ogg', 'audio/flac'];

/** The picked file sent as the raw body, options in the query (the media routes take both). */
function sendFile<T>(path: string, file: File, options: Record<string, string | number>): Promise<T> {
  return postJson<T>(`${path}?${query(options)}`, file, RAW_TYPES.includes(file.type) ? file.type : 'application/octet-stream');
}

/**
 * Files larger than this are sent to the server but not decoded in the browser for the preview or
 * the waveform (an hour of audio is about 700 MB of samples once decoded).
 */
export const MAX_PREVIEW_BYTES = 32 * 1024 * 1024;

function previewable(file: File, where: HTMLElement): boolean {
  if (file.size <= MAX_PREVIEW_BYTES) return true;
  clear(
    where,
    `${file.name}: ${(file.size / 1048576).toFixed(0)} MiB, too large to draw here (at most ${MAX_PREVIEW_BYTES / 1048576} MiB); the server still reads it.`,
  );
  return false;
}

/** The image drawn on a canvas (no object URL, which the CSP's img-src would refuse) with an SVG layer over it. */
async function drawImage(stage: HTMLElement, file: File): Promise<{ svg: SVGSVGElement; width: number; height: number }> {
  const bitmap = await createImageBitmap(file);
  const canvas = h('canvas', { width: bitmap.width, height: bitmap.height, role: 'img', 'aria-label': file.name });
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${bitmap.width} ${bitmap.height}`);
  svg.setAttribute('class', 'overlay');
  svg.setAttribute('aria-hidden', 'true');
  clear(stage, h('div', { class: 'stage-inner' }, canvas, svg));
  return { svg, width: bitmap.width, height: bitmap.height };
}

/** Image classification (labels as bars) and OCR (boxes drawn over the image). */
export function imagePanel(): HTMLElement {
  const input = fileInput('image/png,image/jpeg,image/webp');
  const stage = h('div', { class: 'stage' }, 'Drop an image here or pick one.');
  const classifier = modelPicker(['image-classification'], 'Classifier');
  const ocrModel = modelPicker(['text-recognition'], 'OCR model');
  const detector = modelPicker(['object-detection'], 'Detector');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const status = h('p', { class: 'status' });
  let current: Awaited<ReturnType<typeof drawImage>> | undefined;
  const picked = () => input.files?.[0];
  dropZone(stage, input, () => {
    const file = picked();
    current = undefined;
    if (file && previewable(file, stage)) void busy(status, async () => void (current = await drawImage(stage, file)));
  });
  const classify = () =>
    busy(status, async () => {
      const file = need(picked());
      if (previewable(file, stage)) current ??= await drawImage(stage, file);
      const predictions = await sendFile<Array<{ label: string; score: number }>>('/v1/vision/classify', file, {
        model: classifier.select.value,
        top_k: 5,
      });
      clear(results, h('h4', {}, `Labels (${classifier.select.value})`), bars(predictions));
    });
  const ocr = () =>
    busy(status, async () => {
      const file = need(picked());
      current = previewable(file, stage) ? await drawImage(stage, file) : undefined;
      const answer = await sendFile<{ text: string; lines: Array<{ text: string; confidence: number; box: number[][] }> }>(
        '/v1/vision/ocr',
        file,
        { model: ocrModel.select.value },
      );
      for (const [i, line] of answer.lines.entries()) {
        const polygon = document.createElementNS(SVG, 'polygon');
        polygon.setAttribute('points', line.box.map((p) => p.join(',')).join(' '));
        polygon.setAttribute('class', 'box');
        const title = document.createElementNS(SVG, 'title');
        title.textContent = `${i + 1}: ${line.text}`;
        polygon.append(title);
        current?.svg.append(polygon);
      }
      clear(
        results,
        h('h4', {}, `Text lines (${answer.lines.length})`),
        h(
          'ol',
          { class: 'ocr-lines' },
          ...answer.lines.map((l) => h('li', {}, l.text, h('span', { class: 'score' }, l.confidence.toFixed(3)))),
        ),
      );
    });
  const detect = () =>
    busy(status, async () => {
      const file = need(picked());
      current = previewable(file, stage) ? await drawImage(stage, file) : undefined;
      const found = await sendFile<
        Array<{ label: string; score: number; box: { xmin: number; ymin: number; xmax: number; ymax: number } }>
      >('/v1/vision/detect', file, { model: detector.select.value });
      for (const o of found) {
        const rect = document.createElementNS(SVG, 'rect');
        const { xmin, ymin, xmax, ymax } = o.box;
        for (const [k, v] of Object.entries({ x: xmin, y: ymin, width: xmax - xmin, height: ymax - ymin })) rect.setAttribute(k, String(v));
        rect.setAttribute('class', 'box');
        const title = document.createElementNS(SVG, 'title');
        title.textContent = `${o.label} ${o.score.toFixed(2)}`;
        rect.append(title);
        current?.svg.append(rect);
      }
      clear(results, h('h4', {}, `Objects (${found.length})`), bars(found));
    });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'try-image' },
    h('h3', { id: 'try-image' }, 'Image: classification, OCR, detection'),
    field('Image', input),
    stage,
    h('div', { class: 'row' }, classifier.el, action('Classify', 'infer', classify)),
    h('div', { class: 'row' }, ocrModel.el, action('Read text', 'infer', ocr)),
    h('div', { class: 'row' }, detector.el, action('Detect', 'infer', detect)),
    status,
    results,
  );
}

function need(file: File | undefined): File {
  if (!file) throw new Error('Pick or drop a file first');
  return file;
}

interface VadAnswer {
  duration: number;
  segments: Array<{ start: number; end: number; confidence: number }>;
}
interface KeywordAnswer {
  windows: Array<{ start: number; end: number; scores: Array<{ label: string; score: number }> }>;
}

/** Speech: a waveform with the voice-activity segments shaded, and keywords per 1 s window. */
export function audioPanel(): HTMLElement {
  const input = fileInput('audio/wav,audio/mpeg,audio/ogg,audio/flac,audio/webm');
  const wave = h('div', { class: 'wave' }, 'Drop a recording here, pick one, or record one.');
  const vadModel = modelPicker(['voice-activity-detection'], 'VAD model');
  const kwsModel = modelPicker(['keyword-spotting'], 'Keyword model');
  const asrModel = modelPicker(['automatic-speech-recognition'], 'Speech recognition model');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const status = h('p', { class: 'status' });
  let recorded: File | undefined;
  const picked = () => recorded ?? input.files?.[0];
  dropZone(wave, input, () => {
    recorded = undefined;
    const file = picked();
    if (file && previewable(file, wave)) void busy(status, async () => void (await drawWave(wave, file)));
  });
  const vad = () =>
    busy(status, async () => {
      const file = need(picked());
      const canvas = previewable(file, wave) ? await drawWave(wave, file) : undefined;
      const answer = await sendFile<VadAnswer>('/v1/speech/vad', file, { model: vadModel.select.value });
      for (const s of answer.segments) {
        const left = (s.start / answer.duration) * 100;
        const width = ((s.end - s.start) / answer.duration) * 100;
        canvas?.parentElement!.append(
          h('div', {
            class: 'segment',
            style: `left:${left}%;width:${width}%`,
            title: `speech ${s.start.toFixed(2)}–${s.end.toFixed(2)} s`,
          }),
        );
      }
      clear(
        results,
        h('h4', {}, `Speech segments (${answer.segments.length}) in ${answer.duration.toFixed(2)} s`),
        h('ol', { class: 'segments' }, ...answer.segments.map((s) => h('li', {}, `${s.start.toFixed(2)} s – ${s.end.toFixed(2)} s`))),
      );
    });
  const keywords = () =>
    busy(status, async () => {
      const file = need(picked());
      const answer = await sendFile<KeywordAnswer>('/v1/speech/keywords', file, { model: kwsModel.select.value });
      clear(
        results,
        h('h4', {}, 'Keywords per window'),
        h(
          'ol',
          { class: 'keywords' },
          ...answer.windows.map((w) =>
            h('li', {}, `${w.start.toFixed(0)}–${w.end.toFixed(0)} s: ${w.scores[0]?.label} (${w.scores[0]?.score.toFixed(2)})`),
          ),
        ),
      );
    });
  const transcribe = () =>
    busy(status, async () => {
      const file = need(picked());
      const form = new FormData();
      form.append('model', asrModel.select.value);
      form.append('file', file, file.name);
      const answer = await postJson<{ text: string }>('/v1/audio/transcriptions', form);
      clear(results, h('h4', {}, 'Transcript'), h('p', { class: 'transcript' }, answer.text));
    });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'try-audio' },
    h('h3', { id: 'try-audio' }, 'Speech: voice activity, keywords, transcript'),
    field('Recording', input),
    h(
      'div',
      { class: 'row' },
      recorder(status, (file) => ((recorded = file), void busy(status, async () => void (await drawWave(wave, file))))),
    ),
    wave,
    h('div', { class: 'row' }, vadModel.el, action('Find speech', 'infer', vad)),
    h('div', { class: 'row' }, kwsModel.el, action('Spot keywords', 'infer', keywords)),
    h('div', { class: 'row' }, asrModel.el, action('Transcribe', 'infer', transcribe)),
    status,
    results,
  );
}

/** Records from the microphone (Opus in WebM or Ogg, which the server decodes with ffmpeg). */
function recorder(status: HTMLElement, done: (file: File) => void): HTMLElement {
  let media: MediaRecorder | undefined;
  const button = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Record');
  button.addEventListener(
    'click',
    () =>
      void busy(status, async () => {
        if (media) {
          media.stop();
          return;
        }
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        const chunks: Blob[] = [];
        media = new MediaRecorder(stream);
        media.ondataavailable = (e) => chunks.push(e.data);
        media.onstop = () => {
          stream.getTracks().forEach((t) => t.stop());
          const type = media!.mimeType.split(';')[0] || 'audio/webm';
          media = undefined;
          button.textContent = 'Record';
          button.setAttribute('aria-pressed', 'false');
          done(new File(chunks, `recording.${type.endsWith('ogg') ? 'ogg' : 'webm'}`, { type }));
        };
        media.start();
        button.textContent = 'Stop';
        button.setAttribute('aria-pressed', 'true');
      }),
  );
  return button;
}

/** Decodes the file in the browser and draws its waveform (min and max per pixel column). */
async function drawWave(wave: HTMLElement, file: File): Promise<HTMLCanvasElement> {
  const context = new AudioContext();
  try {
    const audio = await context.decodeAudioData(await file.arrayBuffer());
    const samples = audio.getChannelData(0);
    const width = 1000;
    const height = 120;
    const canvas = h('canvas', { width, height, role: 'img', 'aria-label': `waveform of ${file.name}, ${audio.duration.toFixed(2)} s` });
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#1d4ed8';
    const per = Math.max(1, Math.floor(samples.length / width));
    for (let x = 0; x < width; x += 1) {
      let lo = 0;
      let hi = 0;
      for (let i = x * per; i < Math.min(samples.length, (x + 1) * per); i += 1) {
        lo = Math.min(lo, samples[i]!);
        hi = Math.max(hi, samples[i]!);
      }
      g.fillRect(x, ((1 - hi) * height) / 2, 1, Math.max(1, ((hi - lo) * height) / 2));
    }
    clear(wave, h('div', { class: 'wave-inner' }, canvas));
    return canvas;
  } finally {
    void context.close();
  }
}

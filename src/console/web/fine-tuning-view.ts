import { getJson, postJson } from './api.js';
import { action, busy, clear, field, fileInput, h, holds, select, session, setOptions } from './dom.js';
import { lineChart } from './charts.js';
import { jobDetail, type Job, type JobMetrics } from './fine-tuning-job.js';
import { catalog } from './models.js';

interface FileObject {
  id: string;
  filename: string;
  validation: {
    valid: boolean;
    lines: number;
    examples: number;
    error_count: number;
    errors: Array<{ line?: number; message: string }>;
    warnings: Array<{ line?: number; message: string }>;
    labels: Record<string, number> | null;
    duplicates: { lines: Array<{ line: number; first_line: number }> };
  };
}

const BACKBONE_TASKS = ['feature-extraction', 'sentence-similarity', 'image-classification'];

/** Fine-tuning: upload a dataset, create a job, watch it live, compare runs. */
export function fineTuningView(): { root: HTMLElement; show(): void; close(): void } {
  const status = h('p', { class: 'status' });
  const notice = h('p', { class: 'notice' });
  const jobsBody = h('tbody');
  const detail = h('div', { class: 'detail' });
  const compareBox = h('div', { class: 'compare' });
  let watching: ReturnType<typeof jobDetail> | undefined;
  const form = jobForm(status, (job) => {
    void refreshJobs();
    watch(job.id);
  });

  const watch = (id: string) => {
    watching?.close();
    watching = jobDetail(id, () => void refreshJobs());
    clear(detail, watching.root);
  };
  const refreshJobs = () =>
    busy(status, async () => {
      const jobs = (await getJson<{ data: Job[] }>('/v1/fine_tuning/jobs?limit=50')).data;
      clear(
        jobsBody,
        ...jobs.map((j) =>
          h(
            'tr',
            { 'data-job': j.id },
            h('td', {}, h('input', { type: 'checkbox', class: 'compare-pick', value: j.id, 'aria-label': `compare ${j.id}` })),
            h('th', { scope: 'row' }, j.id),
            h('td', {}, j.model),
            h('td', { class: 'job-state' }, j.status),
            h('td', {}, j.fine_tuned_model ?? '–'),
            h('td', {}, h('button', { type: 'button', onclick: () => watch(j.id) }, 'Watch')),
          ),
        ),
      );
    });
  const compare = () =>
    busy(status, async () => {
      const ids = [...jobsBody.querySelectorAll<HTMLInputElement>('input.compare-pick:checked')].map((c) => c.value);
      if (ids.length < 2) throw new Error('Tick two or more jobs to compare');
      const runs = await Promise.all(ids.map((id) => getJson<JobMetrics>(`/v1/fine_tuning/jobs/${id}/metrics`)));
      const epochs = [...new Set(runs.flatMap((r) => r.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
      const chart = lineChart('Validation loss per epoch', 'epoch', ids);
      clear(compareBox, chart.el);
      chart.set(
        epochs,
        runs.map((r) => epochs.map((x) => r.epochs.find((e) => e.epoch === x)?.valid_loss ?? null)),
      );
    });

  const root = h(
    'section',
    { id: 'fine-tuning-view', 'aria-labelledby': 'ft-title' },
    h('h2', { id: 'ft-title' }, 'Fine-tuning'),
    notice,
    status,
    form,
    h('h3', {}, 'Jobs'),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'jobs' },
        h('thead', {}, h('tr', {}, ...['Compare', 'Job', 'Base', 'Status', 'Model', ''].map((c) => h('th', { scope: 'col' }, c)))),
        jobsBody,
      ),
    ),
    h('div', { class: 'row' }, action('Compare runs', 'train', compare)),
    compareBox,
    detail,
  );
  return {
    root,
    show() {
      notice.textContent = holds('train')
        ? ''
        : `Fine-tuning needs the train scope; this key (${session.name}) has ${[...session.scopes].join(', ') || 'none'}. Its actions are disabled.`;
      if (holds('train')) void refreshJobs();
    },
    /** Ends the watched job's event stream (on sign-out). */
    close: () => watching?.close(),
  };
}

/** The dataset upload with its validation report, then the job's base model and hyperparameters. */
function jobForm(status: HTMLElement, created: (job: Job) => void): HTMLElement {
  const dataset = fileInput('.jsonl,application/jsonl,application/json,text/plain');
  const report = h('div', { class: 'report', 'aria-live': 'polite' });
  const trainingFile = select([], { name: 'training_file' });
  const backbone = select(catalog.named(BACKBONE_TASKS));
  catalog.onChange(() => setOptions(backbone, catalog.named(BACKBONE_TASKS)));
  const suffix = h('input', { type: 'text', value: 'console', maxlength: 40 });
  const epochs = h('input', { type: 'number', min: 1, max: 1000, value: 8 });
  const batch = h('input', { type: 'number', min: 1, value: 16 });
  const lr = h('input', { type: 'number', min: 0.000001, max: 10, step: 'any', value: 0.05 });
  const head = select(['linear', 'mlp']);
  const optimizer = select(['adam', 'momentum', 'sgd']);
  const seed = h('input', { type: 'number', min: 0, value: 7 });
  const upload = () =>
    busy(status, async () => {
      const file = dataset.files?.[0];
      if (!file) throw new Error('Pick a JSON Lines file first');
      const form = new FormData();
      form.append('purpose', 'fine-tune');
      form.append('file', file, file.name);
      const answer = await postJson<FileObject>('/v1/files', form);
      clear(report, validationReport(answer));
      trainingFile.prepend(h('option', { value: answer.id }, `${answer.id} (${answer.filename})`));
      trainingFile.value = answer.id;
    });
  const start = () =>
    busy(status, async () => {
      if (!trainingFile.value) throw new Error('Upload a dataset first');
      const job = await postJson<Job>('/v1/fine_tuning/jobs', {
        model: backbone.value,
        training_file: trainingFile.value,
        suffix: suffix.value || undefined,
        seed: Number(seed.value),
        hyperparameters: {
          n_epochs: Number(epochs.value),
          batch_size: Number(batch.value),
          learning_rate: Number(lr.value),
          head: head.value,
          optimizer: optimizer.value,
        },
      });
      created(job);
    });
  return h(
    'div',
    { class: 'ft-form' },
    h('fieldset', {}, h('legend', {}, '1. Dataset'), field('Dataset (JSON Lines)', dataset), action('Upload', 'train', upload), report),
    h(
      'fieldset',
      {},
      h('legend', {}, '2. Job'),
      h(
        'div',
        { class: 'grid' },
        field('Base model', backbone),
        field('Training file', trainingFile),
        field('Suffix', suffix),
        field('Epochs', epochs),
        field('Batch size', batch),
        field('Learning rate', lr),
        field('Head', head),
        field('Optimizer', optimizer),
        field('Seed', seed),
      ),
      action('Start fine-tuning', 'train', start),
    ),
  );
}

function validationReport(file: FileObject): HTMLElement {
  const v = file.validation;
  const problems = [...v.errors.map((e) => ({ ...e, kind: 'error' })), ...v.warnings.map((w) => ({ ...w, kind: 'warning' }))];
  return h(
    'div',
    { class: `validation ${v.valid ? 'valid' : 'invalid'}` },
    h('p', {}, `${file.id}: ${v.valid ? 'valid' : 'not valid'}, ${v.lines} lines, ${v.examples} examples, ${v.error_count} errors`),
    v.labels
      ? h(
          'p',
          { class: 'labels' },
          `Labels: ${Object.entries(v.labels)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}`,
        )
      : null,
    h(
      'ol',
      { class: 'problems' },
      ...problems.map((p) => h('li', { class: p.kind }, `${p.line !== undefined ? `line ${p.line}` : 'file'}: ${p.kind}: ${p.message}`)),
    ),
    v.duplicates.lines.length > 0
      ? h(
          'details',
          { class: 'repeats' },
          h('summary', {}, `${v.duplicates.lines.length} repeated lines`),
          h('ol', {}, ...v.duplicates.lines.map((d) => h('li', {}, `line ${d.line}: repeats line ${d.first_line}`))),
        )
      : null,
  );
}

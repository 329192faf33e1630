import { download, getJson, postJson, streamEvents } from './api.js';
import { action, busy, clear, h } from './dom.js';
import { lineChart } from './charts.js';
import { catalog } from './models.js';

export interface Job {
  id: string;
  model: string;
  status: string;
  fine_tuned_model: string | null;
  created_at: number;
  error: { code: string; message: string } | null;
  head_artifact_id?: string | null;
  metrics?: Record<string, unknown> | null;
}

interface JobEvent {
  created_at: number;
  level: string;
  message: string;
  type: 'message' | 'metrics';
  data: Record<string, number | string | undefined>;
}

interface Checkpoint {
  id: string;
  step_number: number;
  epoch: number;
  artifact_id: string;
  metrics: Record<string, number>;
}

export interface JobMetrics {
  steps: Array<{ step: number; epoch: number; train_loss: number; learning_rate: number }>;
  epochs: Array<{ epoch: number; train_loss: number; train_accuracy?: number; valid_loss?: number; valid_accuracy?: number }>;
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/**
 * One job, live: its status, per-epoch loss and accuracy curves fed point by point from the
 * Server-Sent Events stream, the learning rate per step, events, checkpoints, cancel, downloads.
 */
export function jobDetail(id: string, onChange: () => void): { root: HTMLElement; close(): void } {
  const abort = new AbortController();
  const statusOut = h('output', { class: 'job-status', 'aria-live': 'polite' }, '…');
  const loss = lineChart('Loss per epoch', 'epoch', ['train loss', 'valid loss']);
  loss.el.classList.add('loss-chart');
  const accuracy = lineChart('Accuracy per epoch', 'epoch', ['train accuracy', 'valid accuracy']);
  const rate = lineChart('Learning rate per step', 'step', ['learning rate']);
  const events = h('ol', { class: 'events' });
  const checkpoints = h('div', { class: 'checkpoints' });
  const status = h('p', { class: 'status' });
  const points = { x: [] as number[], trainLoss: [] as Array<number | null>, validLoss: [] as Array<number | null> };
  const acc = { train: [] as Array<number | null>, valid: [] as Array<number | null> };
  const model = h('span', { class: 'ft-model' });

  const cancelAction = action('Cancel', 'train', () => cancel());
  const refreshJob = async () => {
    const job = await getJson<Job>(`/v1/fine_tuning/jobs/${id}`);
    if (FINAL.has(job.status)) {
      cancelAction.querySelector('button')!.disabled = true;
      cancelAction.querySelector('.scope')!.textContent = `the job has ended (${job.status})`;
    }
    statusOut.textContent = job.status;
    statusOut.dataset.status = job.status;
    model.textContent = job.fine_tuned_model ? `model ${job.fine_tuned_model}` : '';
    if (job.error) status.textContent = `${job.error.code}: ${job.error.message}`;
    return job;
  };
  const finish = async () => {
    const job = await refreshJob();
    const [metrics, ckpts] = await Promise.all([
      getJson<JobMetrics>(`/v1/fine_tuning/jobs/${id}/metrics`),
      getJson<{ data: Checkpoint[] }>(`/v1/fine_tuning/jobs/${id}/checkpoints`),
    ]);
    rate.set(
      metrics.steps.map((s) => s.step),
      [metrics.steps.map((s) => s.learning_rate)],
    );
    clear(checkpoints, checkpointTable(ckpts.data, job));
    await catalog.refresh();
    onChange();
  };
  const onEvent = (data: string) => {
    if (data === '[DONE]') return;
    const event = JSON.parse(data) as JobEvent;
    events.append(h('li', { class: event.level }, `${new Date(event.created_at * 1000).toLocaleTimeString()} ${event.message}`));
    if (event.type === 'metrics') {
      points.x.push(num(event.data.epoch) ?? points.x.length + 1);
      points.trainLoss.push(num(event.data.train_loss));
      points.validLoss.push(num(event.data.valid_loss));
      acc.train.push(num(event.data.train_mean_token_accuracy));
      acc.valid.push(num(event.data.valid_mean_token_accuracy));
      loss.set(points.x, [points.trainLoss, points.validLoss]);
      accuracy.set(points.x, [acc.train, acc.valid]);
    } else void refreshJob().catch(() => undefined);
  };
  void busy(status, async () => {
    await refreshJob();
    await streamEvents(`/v1/fine_tuning/jobs/${id}/events?stream=true`, onEvent, abort.signal);
    await finish();
  });
  const cancel = () =>
    busy(status, async () => {
      await postJson(`/v1/fine_tuning/jobs/${id}/cancel`);
      await refreshJob();
      onChange();
    });
  const root = h(
    'section',
    { class: 'job', 'aria-labelledby': `job-${id}`, 'data-job': id },
    h('h3', { id: `job-${id}` }, `Job ${id} `, statusOut, ' ', model),
    h('div', { class: 'row' }, cancelAction),
    status,
    h('div', { class: 'charts' }, loss.el, accuracy.el, rate.el),
    h('h4', {}, 'Checkpoints'),
    checkpoints,
    h('h4', {}, 'Events'),
    events,
  );
  return {
    root,
    close: () => abort.abort(),
  };
}

function checkpointTable(rows: Checkpoint[], job: Job): HTMLElement {
  const save = (artifact: string, name: string) => () => download(`/v1/artifacts/${artifact}`, name);
  return h(
    'div',
    {},
    job.head_artifact_id && FINAL.has(job.status)
      ? h('p', {}, action('Download the trained head (ONNX)', 'train', save(job.head_artifact_id, `${job.id}-head.onnx`)))
      : null,
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...['Epoch', 'Step', 'Train loss', 'Valid loss', 'Artifact'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        ...rows.map((c) =>
          h(
            'tr',
            {},
            h('td', {}, c.epoch),
            h('td', {}, c.step_number),
            h('td', {}, c.metrics.train_loss?.toFixed(4) ?? '–'),
            h('td', {}, c.metrics.valid_loss?.toFixed(4) ?? '–'),
            h('td', {}, action('Download', 'train', save(c.artifact_id, `${c.id}.bin`))),
          ),
        ),
      ),
    ),
  );
}

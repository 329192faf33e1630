import { getJson, postJson, request } from './api.js';
import { action, busy, clear, h } from './dom.js';
import { histogramQuantile, parseMetrics, select, type Sample } from './lib/prometheus.js';
import { catalog, type ModelEntry } from './models.js';

interface Metadata {
  parameters: { execution_provider?: string; instances?: number; [key: string]: unknown };
}
interface Stats {
  model_stats: Array<{ name: string; version: string; inference_count: number }>;
}

const REFRESH_MS = 5000;

/** Models: state, provider, instances, queue, throughput and latency, lineage; load and unload. */
export function modelsView(): { root: HTMLElement; show(): void; hide(): void } {
  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'models' },
    h(
      'caption',
      {},
      'Every model in the repository. Requests/s is measured between refreshes (every 5 s); latency is one model execution.',
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Model', 'Task', 'Versions', 'State', 'Provider', 'Instances', 'Queue', 'Req/s', 'p50', 'p99', 'Lineage', 'Actions'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    body,
  );
  const root = h(
    'section',
    { id: 'models-view', 'aria-labelledby': 'models-title' },
    h('h2', { id: 'models-title' }, 'Models'),
    status,
    h('div', { class: 'scroll' }, table),
  );
  let timer: ReturnType<typeof setInterval> | undefined;
  let previous: { at: number; counts: Map<string, number> } | undefined;

  const refresh = () =>
    busy(status, async () => {
      const [models, stats, metricsText] = await Promise.all([
        catalog.refresh(),
        getJson<Stats>('/v2/models/stats'),
        request('GET', '/metrics').then((r) => r.text()),
      ]);
      const metrics = parseMetrics(metricsText);
      const metadata = await Promise.all(models.map((m) => getJson<Metadata>(`/v2/models/${encodeURIComponent(m.id)}`).catch(() => null)));
      const now = performance.now();
      const counts = new Map<string, number>();
      for (const s of stats.model_stats) counts.set(s.name, (counts.get(s.name) ?? 0) + s.inference_count);
      const rates = new Map<string, number>();
      if (previous) {
        const seconds = (now - previous.at) / 1000;
        for (const [name, count] of counts) rates.set(name, (count - (previous.counts.get(name) ?? 0)) / seconds);
      }
      previous = { at: now, counts };
      clear(body, ...models.map((m, i) => row(m, metadata[i] ?? null, metrics, rates.get(m.id), refresh)));
      root.dataset.loaded = String(models.length);
    });

  return {
    root,
    show() {
      void refresh();
      timer ??= setInterval(() => void refresh(), REFRESH_MS);
    },
    hide() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

const ms = (seconds: number | null) => (seconds === null ? '–' : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`);

function row(m: ModelEntry, meta: Metadata | null, metrics: Sample[], rate: number | undefined, refresh: () => Promise<void>): HTMLElement {
  const labels = { model: m.id };
  const queue = select(metrics, 'lathe_model_queue_depth', labels).reduce((sum, s) => sum + s.value, 0);
  const loaded = m.state === 'READY';
  const lineage = meta ? lineageOf(meta.parameters) : undefined;
  const status = h('span', { class: 'status' });
  const act = (verb: 'load' | 'unload') => () =>
    busy(status, async () => {
      await postJson(`/v2/repository/models/${encodeURIComponent(m.id)}/${verb}`);
      await refresh();
    });
  return h(
    'tr',
    { 'data-model': m.id },
    h('th', { scope: 'row' }, m.id),
    h('td', {}, m.task ?? '–'),
    h('td', {}, m.versions.join(', ')),
    h('td', { class: `state ${m.state.toLowerCase()}` }, m.state),
    h('td', { class: 'provider' }, meta?.parameters.execution_provider ?? (loaded ? '?' : 'not loaded')),
    h('td', {}, meta?.parameters.instances ?? '–'),
    h('td', {}, loaded ? queue : '–'),
    h('td', {}, rate === undefined ? '–' : rate.toFixed(2)),
    h('td', {}, ms(histogramQuantile(metrics, 'lathe_model_inference_seconds', labels, 0.5))),
    h('td', {}, ms(histogramQuantile(metrics, 'lathe_model_inference_seconds', labels, 0.99))),
    h('td', { class: 'lineage' }, lineage ? lineageText(lineage) : m.owned_by === 'fine-tuning' ? 'fine-tuned' : '–'),
    h('td', {}, loaded ? action('Unload', 'manage', act('unload')) : action('Load', 'manage', act('load')), status),
  );
}

/** The `lineage_*` parameters of a model's metadata, without the prefix; undefined when there are none. */
function lineageOf(parameters: Record<string, unknown>): Record<string, unknown> | undefined {
  const entries = Object.entries(parameters).filter(([k]) => k.startsWith('lineage_'));
  return entries.length > 0 ? Object.fromEntries(entries.map(([k, v]) => [k.slice('lineage_'.length), v])) : undefined;
}

/** What a fine-tuned model was made from; digests shortened on screen, whole in their title. */
function lineageText(lineage: Record<string, unknown>): HTMLElement {
  return h(
    'dl',
    {},
    ...Object.entries(lineage).flatMap(([k, v]) => {
      const text = String(v);
      const short = k.endsWith('sha256') && text.length > 12 ? `${text.slice(0, 12)}…` : text;
      return [h('dt', {}, k), h('dd', { title: text }, short)];
    }),
  );
}

import { Counter, Gauge, type Registry } from 'prom-client';
import { CounterFamily, GaugeFamily, HistogramFamily } from '../metrics/series.js';

/**
 * Per model and version: outcomes, queue and inference time, batch sizes, queue depth, provider.
 * What every request or batch records is a bound series (`metrics/series.ts`); the rest is prom-client's.
 */
export class ModelMetrics {
  readonly requests: CounterFamily<'model' | 'version' | 'outcome'>;
  readonly queueSeconds: HistogramFamily<'model' | 'version'>;
  readonly inferenceSeconds: HistogramFamily<'model' | 'version'>;
  readonly batchSize: HistogramFamily<'model' | 'version'>;
  readonly queueDepth: GaugeFamily<'model' | 'version'>;
  readonly loaded: Gauge<'model' | 'version' | 'provider'>;
  readonly crashes: Counter<'model' | 'version'>;
  readonly inlineRuns: CounterFamily<'model' | 'version'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['model', 'version'] as const;
    this.requests = new CounterFamily({
      name: 'lathe_model_requests_total',
      help: 'Inference requests by outcome (success, fail, overloaded, timeout).',
      labelNames: [...labelNames, 'outcome'],
      registers,
    });
    this.queueSeconds = new HistogramFamily({
      name: 'lathe_model_queue_seconds',
      help: 'Time a request waited for a model instance.',
      labelNames,
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.inferenceSeconds = new HistogramFamily({
      name: 'lathe_model_inference_seconds',
      help: 'Time of one model execution (a batch).',
      labelNames,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.batchSize = new HistogramFamily({
      name: 'lathe_model_batch_size',
      help: 'Rows per model execution.',
      labelNames,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.queueDepth = new GaugeFamily({
      name: 'lathe_model_queue_depth',
      help: 'Requests waiting for a model instance.',
      labelNames,
      registers,
    });
    this.loaded = new Gauge({
      name: 'lathe_model_loaded',
      help: '1 for each loaded model version, labelled with the execution provider it runs on.',
      labelNames: [...labelNames, 'provider'],
      registers,
    });
    this.inlineRuns = new CounterFamily({
      name: 'lathe_model_inline_runs_total',
      help: "Requests run on the main thread instead of a session worker (the manifest's `inline`).",
      labelNames,
      registers,
    });
    this.crashes = new Counter({
      name: 'lathe_model_instance_crashes_total',
      help: 'Session workers that died and were replaced.',
      labelNames,
      registers,
    });
  }
}

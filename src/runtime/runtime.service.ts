import { Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { batchAxes, batchAxisOf, type ModelManifest } from '../contracts/model-manifest.js';
import { ModelMetrics } from './model-metrics.js';
import { ModelRunner, type RunnerEvents } from './model-runner.js';
import { elementCount, type NamedTensors, type TensorData, TYPED_ARRAY_OF } from '../contracts/tensor.js';
import { WorkerPlanners } from './worker-planners.js';

/** Starts model versions in ONNX Runtime on the configured execution providers, with metrics. */
@Injectable()
export class RuntimeService {
  private readonly logger = new Logger('Runtime');
  private readonly metrics: ModelMetrics;
  private readonly warned = new Set<string>();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    metrics: MetricsService,
    private readonly planners: WorkerPlanners,
  ) {
    this.metrics = new ModelMetrics(metrics.registry);
  }

  /** `folder`: the Hugging Face-layout folder, when the manifest's source is one (for the planners). */
  async start(name: string, version: string, modelPath: string, manifest: ModelManifest, folder?: string): Promise<ModelRunner> {
    let provider = 'unknown';
    const labels = { model: name, version };
    const m = this.metrics;
    // Series bound to this version's labels on first use: no label object or lookup per request.
    const batchSize = once(() => m.batchSize.labels(labels));
    const inferenceSeconds = once(() => m.inferenceSeconds.labels(labels));
    const queueSeconds = once(() => m.queueSeconds.labels(labels));
    const queueDepth = once(() => m.queueDepth.labels(labels));
    const inlineRuns = once(() => m.inlineRuns.labels(labels));
    const outcomes = new Map<string, ReturnType<typeof m.requests.labels>>();
    const events: RunnerEvents = {
      fallback: (p, error) => this.warnFallback(p, error),
      execution: (rows, seconds) => {
        batchSize().observe(rows);
        inferenceSeconds().observe(seconds);
      },
      request: (outcome, seconds) => {
        let counter = outcomes.get(outcome);
        if (!counter) outcomes.set(outcome, (counter = m.requests.labels({ ...labels, outcome })));
        counter.inc();
        if (seconds !== undefined) queueSeconds().observe(seconds);
      },
      queueDepth: (depth) => queueDepth().set(depth),
      inline: (serving, reason) =>
        serving
          ? this.logger.log(`${name}/${version} runs on the main thread: ${reason}`)
          : this.logger.warn(`${name}/${version} runs nothing on the main thread: ${reason}`),
      ranInline: () => inlineRuns().inc(),
      crashed: (err) => {
        m.crashes.inc(labels);
        this.logger.error(`${name}/${version}: a session worker crashed (${err.message}); replacing it`);
      },
      stopped: () => {
        m.loaded.remove({ ...labels, provider });
        m.queueDepth.remove(labels);
      },
    };
    const batching =
      manifest.maxBatchSize > 0
        ? {
            maxBatchSize: manifest.maxBatchSize,
            axes: batchAxes(manifest),
            preferredBatchSizes: manifest.dynamicBatching?.preferredBatchSizes ?? [],
            maxQueueDelayUs: manifest.dynamicBatching?.maxQueueDelayMicroseconds ?? 0,
          }
        : null;
    const runner = new ModelRunner(
      {
        name,
        version,
        worker: this.planners.planFor({ name, version, modelPath, manifest, folder }),
        providers: this.config.models.executionProviders,
        instances: manifest.instances,
        intraOpThreads: manifest.intraOpThreads,
        intraOpSpinning: manifest.intraOpSpinning,
        maxQueueSize: manifest.queue.maxSize,
        timeoutMs: manifest.timeoutMs,
        batching,
        ...(manifest.inline ? { inline: manifest.inline } : {}),
      },
      events,
    );
    await runner.start();
    provider = runner.provider;
    try {
      if (manifest.runtime === 'onnxruntime') checkManifestAgainstSession(manifest, runner);
      if (manifest.warmup && manifest.runtime === 'onnxruntime') await warmUp(runner, manifest);
    } catch (err) {
      await runner.stop();
      throw err;
    }
    m.loaded.set({ ...labels, provider }, 1);
    return runner;
  }

  /** Logged once per provider and process: the fallback is a property of the machine, not of a model. */
  private warnFallback(provider: string, error: string): void {
    if (this.warned.has(provider)) return;
    this.warned.add(provider);
    this.logger.warn(`Execution provider "${provider}" is not available here (${error}); falling back to the next one`);
  }
}

function checkManifestAgainstSession(manifest: ModelManifest, runner: ModelRunner): void {
  const names = (list: Array<{ name: string }>) => new Set(list.map((t) => t.name));
  const sessionInputs = names(runner.inputs);
  const sessionOutputs = names(runner.outputs);
  const missing = [
    ...manifest.inputs.filter((t) => !sessionInputs.has(t.name)).map((t) => `input "${t.name}"`),
    ...manifest.outputs.filter((t) => !sessionOutputs.has(t.name)).map((t) => `output "${t.name}"`),
  ];
  if (missing.length > 0) throw new Error(`the manifest names ${missing.join(', ')}, which the model does not have`);
}

async function warmUp(runner: ModelRunner, manifest: ModelManifest): Promise<void> {
  const inputs: NamedTensors = {};
  for (const spec of manifest.inputs) {
    const w = manifest.warmup?.[spec.name];
    if (!w) throw new Error(`warmup has no entry for input "${spec.name}"`);
    const n = elementCount(w.shape);
    let data: TensorData;
    if (spec.datatype === 'BYTES') data = Array.from({ length: n }, () => String(w.value));
    else if (spec.datatype === 'INT64') data = new BigInt64Array(n).fill(BigInt(w.value));
    else if (spec.datatype === 'UINT64') data = new BigUint64Array(n).fill(BigInt(w.value));
    else data = new TYPED_ARRAY_OF[spec.datatype](n).fill(w.value as never);
    inputs[spec.name] = { datatype: spec.datatype, shape: w.shape, data };
  }
  const batched = manifest.inputs.find((t) => batchAxisOf(t, manifest.maxBatchSize) !== null);
  const rows = batched ? (manifest.warmup![batched.name]!.shape[batchAxisOf(batched, manifest.maxBatchSize)!] ?? 1) : 1;
  await runner.infer(
    inputs,
    manifest.outputs.map((o) => o.name),
    rows,
  );
}

/** make(), called the first time the result is needed and remembered after. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

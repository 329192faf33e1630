/** Triton's statistics extension, per model version: counts and cumulative nanoseconds. */
export interface Duration {
  count: number;
  ns: number;
}

export interface BatchStats {
  batch_size: number;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: Duration;
    fail: Duration;
    queue: Duration;
    compute_input: Duration;
    compute_infer: Duration;
    compute_output: Duration;
    cache_hit: Duration;
    cache_miss: Duration;
  };
  batch_stats: BatchStats[];
}

const zero = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ns: number, count = 1) => {
  d.count += count;
  d.ns += ns;
};

export class ModelStatsRecorder {
  private readonly stats: ModelStatistics;
  private readonly batches = new Map<number, BatchStats>();

  constructor(name: string, version: string) {
    this.stats = {
      name,
      version,
      last_inference: 0,
      inference_count: 0,
      execution_count: 0,
      inference_stats: {
        success: zero(),
        fail: zero(),
        queue: zero(),
        compute_input: zero(),
        compute_infer: zero(),
        compute_output: zero(),
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [],
    };
  }

  /** One execution of the model on a batch of `batchSize` rows made of `requests` requests. */
  execution(batchSize: number, requests: number, inputNs: number, inferNs: number, outputNs: number): void {
    const s = this.stats;
    s.execution_count += 1;
    s.inference_count += batchSize;
    s.last_inference = Date.now();
    add(s.inference_stats.compute_input, inputNs, requests);
    add(s.inference_stats.compute_infer, inferNs, requests);
    add(s.inference_stats.compute_output, outputNs, requests);
    let b = this.batches.get(batchSize);
    if (!b) {
      b = { batch_size: batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.batches.set(batchSize, b);
    }
    add(b.compute_input, inputNs);
    add(b.compute_infer, inferNs);
    add(b.compute_output, outputNs);
  }

  request(ok: boolean, totalNs: number, queueNs: number | undefined): void {
    add(ok ? this.stats.inference_stats.success : this.stats.inference_stats.fail, totalNs);
    if (queueNs !== undefined) add(this.stats.inference_stats.queue, queueNs);
  }

  snapshot(): ModelStatistics {
    const batch_stats = [...this.batches.values()].sort((a, b) => a.batch_size - b.batch_size);
    return structuredClone({ ...this.stats, batch_stats });
  }
}

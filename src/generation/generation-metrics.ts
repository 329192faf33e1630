import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Text generation, per model: latency to the first token and between tokens, tokens, and the decode loop's load. */
export class GenerationMetrics {
  readonly timeToFirstToken: Histogram<'model'>;
  readonly interTokenLatency: Histogram<'model'>;
  readonly tokens: Counter<'model' | 'kind'>;
  readonly requests: Counter<'model' | 'finish_reason'>;
  readonly activeSequences: Gauge<'model'>;
  readonly waitingSequences: Gauge<'model'>;
  readonly kvCacheBytes: Gauge<'model'>;
  readonly decodeSteps: Counter<'model'>;
  readonly decodeRows: Counter<'model'>;
  readonly joinedMidBatch: Counter<'model'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['model'] as const;
    this.timeToFirstToken = new Histogram({
      name: 'lathe_generation_time_to_first_token_seconds',
      help: 'From the request to its first generated token (queue and prefill included).',
      labelNames,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.interTokenLatency = new Histogram({
      name: 'lathe_generation_inter_token_seconds',
      help: 'Between two tokens of one sequence (one decode step as its client sees it); tokens/s of a sequence is its inverse.',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.tokens = new Counter({
      name: 'lathe_generation_tokens_total',
      help: 'Tokens read (kind "prompt") and generated (kind "completion"); rate() of the second is the tokens/s.',
      labelNames: [...labelNames, 'kind'],
      registers,
    });
    this.requests = new Counter({
      name: 'lathe_generation_requests_total',
      help: 'Generation requests by how they ended: stop, length, cancelled (the client went away) or error.',
      labelNames: [...labelNames, 'finish_reason'],
      registers,
    });
    this.activeSequences = new Gauge({
      name: 'lathe_generation_active_sequences',
      help: 'Sequences in the decode loop now.',
      labelNames,
      registers,
    });
    this.waitingSequences = new Gauge({
      name: 'lathe_generation_waiting_sequences',
      help: 'Sequences waiting for room in the decode loop.',
      labelNames,
      registers,
    });
    this.kvCacheBytes = new Gauge({
      name: 'lathe_generation_kv_cache_bytes',
      help: 'Bytes of key/value cache the running sequences hold (padding included).',
      labelNames,
      registers,
    });
    this.decodeSteps = new Counter({ name: 'lathe_generation_decode_steps_total', help: 'Decode steps run.', labelNames, registers });
    this.decodeRows = new Counter({
      name: 'lathe_generation_decode_rows_total',
      help: 'Sequences over all decode steps: divided by the steps, the mean decode batch.',
      labelNames,
      registers,
    });
    this.joinedMidBatch = new Counter({
      name: 'lathe_generation_joined_running_batch_total',
      help: 'Sequences that joined a decode batch while others in it were still generating (continuous batching).',
      labelNames,
      registers,
    });
  }
}

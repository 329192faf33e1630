import type { Metric, Registry } from 'prom-client';

/**
 * Counters, gauges and histograms for the per-request paths, exported through a prom-client
 * Registry in prom-client's own format. prom-client checks and hashes a series' labels on every
 * observation, even a series bound with `labels()` (0.3-0.5 µs each, four to eight per request);
 * here a caller binds a series once and an observation is a few additions on its fields.
 */
type Labels<L extends string> = Readonly<Record<L, string>>;

interface FamilyOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers: Registry[];
}

/** One exported value, as prom-client's Registry formats it (`sharedLabels` go after `labels`). */
interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  metricName?: string;
  /** prom-client writes exemplars only in OpenMetrics; its buckets carry `null`. */
  exemplar?: null;
}

interface Exported {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: ExportedValue[];
  aggregator: 'sum';
}

abstract class Family<L extends string, S extends { labels: Labels<L> }> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  abstract readonly type: Exported['type'];
  private readonly labelNames: readonly L[];
  private series = new Map<string, S>();

  constructor(options: FamilyOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    // The Registry needs only what it reads: name, help, type, aggregator, get (and reset).
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these labels, made on first use; keep it and call it per observation. */
  labels(labels: Labels<L>): S {
    const key = this.key(labels);
    let series = this.series.get(key);
    if (!series) {
      series = this.create({ ...labels });
      this.series.set(key, series);
    }
    return series;
  }

  /** Drops a series from the export (e.g. a model version that was unloaded). */
  remove(labels: Labels<L>): void {
    this.series.delete(this.key(labels));
  }

  reset(): void {
    this.series = new Map();
  }

  /** prom-client's text export reads this. */
  getForPromString(): Promise<Exported> {
    const values: ExportedValue[] = [];
    for (const series of this.series.values()) this.export(series, values);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** prom-client's JSON export reads this: each value's labels in one object. */
  async get(): Promise<Exported> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, ...value }) => ({ ...value, labels: { ...value.labels, ...sharedLabels } }));
    return data;
  }

  protected abstract create(labels: Labels<L>): S;
  protected abstract export(series: S, into: ExportedValue[]): void;

  private key(labels: Labels<L>): string {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || this.labelNames.some((name) => typeof labels[name] !== 'string')) {
      throw new Error(`${this.name}: labels ${names.join(', ') || '(none)'} are not ${this.labelNames.join(', ') || '(none)'}`);
    }
    return this.labelNames.map((name) => labels[name]).join('\u0000');
  }
}

/** A counter's series: one value that only grows. */
export class CounterSeries<L extends string> {
  value = 0;
  constructor(readonly labels: Labels<L>) {}
  inc(by = 1): void {
    this.value += by;
  }
}

/** A gauge's series: one value that is also set and lowered. */
export class GaugeSeries<L extends string> extends CounterSeries<L> {
  set(value: number): void {
    this.value = value;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

/** Counters and gauges: one exported value per series. */
abstract class ValueFamily<L extends string, S extends CounterSeries<L>> extends Family<L, S> {
  protected export(series: S, into: ExportedValue[]): void {
    into.push({ value: series.value, labels: { ...series.labels } });
  }
}

export class CounterFamily<L extends string = never> extends ValueFamily<L, CounterSeries<L>> {
  readonly type = 'counter';
  protected create(labels: Labels<L>): CounterSeries<L> {
    return new CounterSeries(labels);
  }
}

export class GaugeFamily<L extends string = never> extends ValueFamily<L, GaugeSeries<L>> {
  readonly type = 'gauge';
  protected create(labels: Labels<L>): GaugeSeries<L> {
    return new GaugeSeries(labels);
  }
}

export class HistogramSeries<L extends string> {
  sum = 0;
  count = 0;
  /** Observations per bucket (not cumulative); the last counts those above every bound. */
  readonly counts: Float64Array;
  constructor(
    readonly labels: Labels<L>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    // A NaN would poison the sum for good (prom-client throws instead, which here would be inside a request's hook).
    if (!Number.isFinite(value)) return;
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

export class HistogramFamily<L extends string = never> extends Family<L, HistogramSeries<L>> {
  readonly type = 'histogram';
  private readonly buckets: readonly number[];

  constructor(options: FamilyOptions<L> & { buckets: readonly number[] }) {
    super(options);
    this.buckets = [...options.buckets].sort((a, b) => a - b);
  }

  protected create(labels: Labels<L>): HistogramSeries<L> {
    return new HistogramSeries(labels, this.buckets);
  }

  protected export(series: HistogramSeries<L>, into: ExportedValue[]): void {
    const bucket = `${this.name}_bucket`;
    const shared = { ...series.labels } as Record<string, string>;
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += series.counts[i]!;
      into.push({ value: cumulative, labels: { le }, sharedLabels: shared, metricName: bucket, exemplar: null });
    });
    into.push(
      { value: series.count, labels: { le: '+Inf' }, sharedLabels: shared, metricName: bucket, exemplar: null },
      { value: series.sum, labels: {}, sharedLabels: shared, metricName: `${this.name}_sum` },
      { value: series.count, labels: {}, sharedLabels: shared, metricName: `${this.name}_count` },
    );
  }
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CounterFamily, GaugeFamily, HistogramFamily } from './series.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const SAMPLES = [0.0005, 0.001, 0.004, 0.01, 0.05, 0.5, 1, 3, 0];

/** The same names, labels and observations through prom-client's own metrics and through the bound series. */
function registries(): { theirs: Registry; ours: Registry } {
  const theirs = new Registry();
  const ours = new Registry();
  const labelNames = ['model', 'route'] as const;
  const a = { model: 'm"1', route: '/v1/x\\y' };
  const b = { model: 'm2', route: '/v2\n' };

  const histogram = new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames, buckets: BUCKETS, registers: [theirs] });
  const counter = new Counter({ name: 'c_total', help: 'A counter.', labelNames, registers: [theirs] });
  const gauge = new Gauge({ name: 'g', help: 'A gauge.', registers: [theirs] });
  const hf = new HistogramFamily({ name: 'h_seconds', help: 'A histogram.', labelNames, buckets: BUCKETS, registers: [ours] });
  const cf = new CounterFamily({ name: 'c_total', help: 'A counter.', labelNames, registers: [ours] });
  const gs = new GaugeFamily({ name: 'g', help: 'A gauge.', registers: [ours] }).labels({});

  for (const labels of [a, b]) {
    const series = hf.labels(labels);
    for (const v of labels === a ? SAMPLES : SAMPLES.slice(3)) {
      histogram.observe(labels, v);
      series.observe(v);
    }
  }
  counter.inc(a, 3);
  cf.labels(a).inc(3);
  counter.inc(b);
  cf.labels(b).inc();
  gauge.inc(5);
  gauge.dec(2);
  gs.inc(5);
  gs.dec(2);
  return { theirs, ours };
}

describe('bound metric series', () => {
  it('export exactly the text prom-client does for the same observations', async () => {
    const { theirs, ours } = registries();
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /^h_seconds_bucket\{le="0.01",model="m\\"1",route="\/v1\/x\\\\y"\} 5$/m);
    assert.match(text, /^h_seconds_bucket\{le="\+Inf",model="m2",route="\/v2\\n"\} 6$/m);
    assert.match(text, /^g 3$/m);
  });

  it('export the same JSON as prom-client', async () => {
    const { theirs, ours } = registries();
    // As a /metrics client would read them: prom-client's sum and count carry an `exemplar: undefined`.
    const json = async (registry: Registry) => JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as unknown;
    assert.deepEqual(await json(ours), await json(theirs));
  });

  it('a gauge without labels exports 0 before its first change, as prom-client does', async () => {
    const registry = new Registry();
    new GaugeFamily({ name: 'idle', help: 'Idle.', registers: [registry] }).labels({});
    assert.equal(await registry.metrics(), '# HELP idle Idle.\n# TYPE idle gauge\nidle 0\n');
  });

  it('a removed series leaves the export; labels must be the declared ones', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'x_total', help: 'X.', labelNames: ['model'], registers: [registry] });
    family.labels({ model: 'a' }).inc();
    family.labels({ model: 'b' }).inc(2);
    family.remove({ model: 'a' });
    assert.equal(await registry.metrics(), '# HELP x_total X.\n# TYPE x_total counter\nx_total{model="b"} 2\n');
    assert.throws(() => family.labels({ other: 'a' } as never), /x_total: labels other are not model/);
    assert.throws(() => family.labels({} as never), /x_total: labels \(none\) are not model/);
  });

  it('one series per label set, whatever the object', () => {
    const family = new HistogramFamily({ name: 'y', help: 'Y.', labelNames: ['model'], buckets: [1], registers: [] });
    const first = family.labels({ model: 'a' });
    first.observe(0.5);
    first.observe(Number.NaN);
    assert.equal(family.labels({ model: 'a' }), first);
    assert.deepEqual({ sum: first.sum, count: first.count, counts: [...first.counts] }, { sum: 0.5, count: 1, counts: [1, 0] });
  });
});

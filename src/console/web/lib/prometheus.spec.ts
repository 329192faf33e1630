import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { histogramQuantile, parseMetrics, select } from './prometheus.js';

const TEXT = `# HELP lathe_model_inference_seconds Time of one model execution (a batch).
# TYPE lathe_model_inference_seconds histogram
lathe_model_inference_seconds_bucket{le="0.01",model="a",version="1"} 2
lathe_model_inference_seconds_bucket{le="0.1",model="a",version="1"} 6
lathe_model_inference_seconds_bucket{le="1",model="a",version="1"} 10
lathe_model_inference_seconds_bucket{le="+Inf",model="a",version="1"} 10
lathe_model_inference_seconds_sum{model="a",version="1"} 1.7
lathe_model_inference_seconds_count{model="a",version="1"} 10
lathe_model_inference_seconds_bucket{le="0.01",model="b",version="1"} 0
lathe_model_inference_seconds_bucket{le="+Inf",model="b",version="1"} 4
lathe_model_queue_depth{model="a",version="1"} 3
lathe_model_queue_depth{model="a",version="2"} 1
lathe_http_requests_total{route="/v1/x \\"y\\"",method="GET"} 12
`;

describe('Prometheus text for the console', () => {
  const samples = parseMetrics(TEXT);

  it('reads samples with their labels, escapes undone, comments skipped', () => {
    assert.equal(samples.length, 11);
    assert.deepEqual(samples.at(-1), { name: 'lathe_http_requests_total', labels: { route: '/v1/x "y"', method: 'GET' }, value: 12 });
    assert.deepEqual(
      select(samples, 'lathe_model_queue_depth', { model: 'a' }).map((s) => s.value),
      [3, 1],
    );
  });

  it("estimates quantiles from cumulative buckets as PromQL's histogram_quantile does", () => {
    const q = (p: number, model = 'a') => histogramQuantile(samples, 'lathe_model_inference_seconds', { model }, p);
    // rank 5 of 10 lies in (0.01, 0.1] holding 4 (ranks 3..6): 0.01 + 0.09 * (5 - 2) / 4.
    assert.ok(Math.abs(q(0.5)! - 0.0775) < 1e-12);
    // rank 9.9 lies in (0.1, 1] holding 4: 0.1 + 0.9 * (9.9 - 6) / 4.
    assert.ok(Math.abs(q(0.99)! - 0.9775) < 1e-12);
    // Everything above the last finite bucket: its bound (0.01 here).
    assert.equal(q(0.5, 'b'), 0.01);
    assert.equal(q(0.5, 'none'), null);
  });
});

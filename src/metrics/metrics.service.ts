import { Injectable } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { CounterFamily, type CounterSeries, GaugeFamily, type GaugeSeries, HistogramFamily, type HistogramSeries } from './series.js';

type RequestLabel = 'method' | 'route' | 'status_code';

/** The process's Prometheus registry. Its own Registry, so several apps in one test process do not clash. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly requests = new CounterFamily<RequestLabel>({
    name: 'lathe_http_requests_total',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    registers: [this.registry],
  });
  private readonly duration = new HistogramFamily<RequestLabel>({
    name: 'lathe_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  /** HTTP requests being served. */
  readonly inFlight: GaugeSeries<never> = new GaugeFamily({
    name: 'lathe_http_requests_in_flight',
    help: 'HTTP requests being served.',
    registers: [this.registry],
  }).labels({});

  constructor() {
    // Process CPU, memory, handles, GC and event-loop lag (nodejs_eventloop_lag_*).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  /** The series of each (method, route, status) seen, bound once: no label object per request. */
  private readonly bound = new Map<string, { requests: CounterSeries<RequestLabel>; duration: HistogramSeries<RequestLabel> }>();

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${statusCode} ${route}`;
    let series = this.bound.get(key);
    if (!series) {
      const labels = { method, route, status_code: String(statusCode) };
      series = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.bound.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics. One registry per process, created by the composition root and passed to
 * the HTTP server (which serves it at /metrics) and to any module that adds its own gauges:
 * `new Gauge({ name: 'custodian_ingest_pending_files', help: '…', registers: [registry] })`.
 */
export type { Registry as MetricsRegistry } from 'prom-client';

/** A registry with the default process metrics (CPU, memory, event loop, GC). */
export function createMetricsRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface HttpMetrics {
  observe(labels: { method: string; route: string; status: number }, seconds: number): void;
}

const REQUESTS = 'http_requests_total';
const DURATION = 'http_request_duration_seconds';
type Label = 'method' | 'route' | 'status';

/** HTTP request counter and duration histogram, by method, route pattern and status. */
export function httpMetrics(registry: Registry): HttpMetrics {
  // Several servers may share one registry (tests, a restart in-process); reuse what exists.
  const requests =
    (registry.getSingleMetric(REQUESTS) as Counter<Label> | undefined) ??
    new Counter<Label>({
      name: REQUESTS,
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric(DURATION) as Histogram<Label> | undefined) ??
    new Histogram<Label>({
      name: DURATION,
      help: 'HTTP request duration in seconds, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  return {
    observe(labels, seconds) {
      const values = { method: labels.method, route: labels.route, status: String(labels.status) };
      requests.inc(values);
      duration.observe(values, seconds);
    },
  };
}

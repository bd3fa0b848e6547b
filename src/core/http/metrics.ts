// Prometheus metrics of a Core server (prom-client), in a registry of its own per server so two
// servers in one process (tests) never share counters. Labels are route templates, methods and
// statuses only: never a tenant, a key or a payload.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface CoreMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  appendedEvents: Counter;
  appendedBytes: Counter;
  watchesWaiting: Gauge;
}

/** `tenants` is read at scrape time (how many tenants the store has open). */
export function createCoreMetrics(tenants: () => Promise<number>): CoreMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'allsource_core_' });
  const requests = new Counter({ name: 'allsource_core_http_requests_total', help: 'HTTP requests answered, by route template, method and status.', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'allsource_core_http_request_duration_seconds',
    help: 'Time from request to response, by route template and method (long-poll watches included).',
    labelNames: ['method', 'route'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const appendedEvents = new Counter({ name: 'allsource_core_appended_events_total', help: 'Events appended (new ones; duplicates and dry runs are not counted).', registers: [registry] });
  const appendedBytes = new Counter({ name: 'allsource_core_appended_bytes_total', help: 'Request body bytes of successful appends.', registers: [registry] });
  const watchesWaiting = new Gauge({ name: 'allsource_core_watches_waiting', help: 'Long-poll watches being held open.', registers: [registry] });
  new Gauge({
    name: 'allsource_core_open_tenants',
    help: 'Tenants the store has open (in memory).',
    registers: [registry],
    async collect() {
      this.set(await tenants().catch(() => 0));
    },
  });
  return { registry, requests, duration, appendedEvents, appendedBytes, watchesWaiting };
}

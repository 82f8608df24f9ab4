export { createProcessRegistry, METRICS_REGISTRY, MetricsProcess, startProcessMetrics } from './process-metrics';

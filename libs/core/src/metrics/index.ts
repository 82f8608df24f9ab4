export { createProcessRegistry, METRICS_REGISTRY, startProcessMetrics } from './process-metrics';

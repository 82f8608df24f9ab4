export { buildInfo, createProcessRegistry, METRICS_REGISTRY, startProcessMetrics } from './process-metrics';

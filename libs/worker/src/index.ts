// The worker's body: its Nest module (queue consumers, timers, health listener), started by apps/worker and,
// in-process, by the test harness (libs/testing), which may not import an app (.dependency-cruiser.js).
export { createWorkerContext } from './worker.module';
export { HealthListener } from './health-listener';

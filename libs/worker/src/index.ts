// The worker's body: its BullMQ processors and health listener, started by apps/worker and, in-process, by the
// test harness (libs/testing), which may not import an app (.dependency-cruiser.js).
export { startWorker, type WorkerRuntime } from './worker-runtime';
export { startHealthServer } from './worker-health';

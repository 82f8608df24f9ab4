/** The worker's logger (libs/logging's createLogger('reopen-worker', …)). */
export const WORKER_LOGGER = Symbol('WORKER_LOGGER');

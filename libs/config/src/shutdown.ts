/**
 * How long each process may take to stop after SIGTERM before it exits anyway. docker-compose.yml's
 * stop_grace_period must exceed them (apps/cli/src/compose-file.spec.ts checks it), or Docker's SIGKILL cuts a worker
 * between a batch's call and its settle.
 */
export const SHUTDOWN_DEADLINES_MS = {
  /** In-flight requests and live streams end first. */
  api: 15_000,
  /** Pumps finish their batch; queues, the mailstore pool, Redis and PostgreSQL close in order. */
  worker: 20_000,
} as const;

import { QueueUnavailableError } from '@app/queue';

/**
 * Adds a job that only nudges the worker: the change it is for is already committed in PostgreSQL, and the worker's
 * reconciler (Reconciler.run) adds the same job from there (pumps of running and rolling-back waves, due schedules,
 * ended bakes, queued operations). So a queue that cannot take it now (Redis unreachable: the fail-fast producer has
 * logged it) must not fail the command whose change is committed: the work starts when Redis is back. Anything else
 * still throws.
 */
export async function nudge(add: () => Promise<void>): Promise<void> {
  try {
    await add();
  } catch (err) {
    if (!(err instanceof QueueUnavailableError)) throw err;
  }
}

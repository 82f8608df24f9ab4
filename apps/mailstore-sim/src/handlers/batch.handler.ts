import { JSON_CONTENT_TYPE } from '../http-io';
import type { Problem } from '../problem';
import { planBatch } from './batch-plan';
import { executeBatch } from './batch-result';
import type { Executed, Operation, V1Handler, V1Request } from './v1-handler';

/**
 * POST /v1/access/batch: 1..maxBatchItems items, each standing alone; HTTP 200 whenever the request
 * itself was valid, even if every item failed. `results[i]` answers `items[i]`.
 */
export const batchHandler: V1Handler = {
  endpoint: 'batch',
  scope: 'access:write',
  readsBody: true,
  acceptsIdempotencyKey: true,
  prepare({ state, store, body, needsFingerprint }: V1Request): Operation | Problem {
    const plan = planBatch(body as Record<string, unknown>, store, state.settings, needsFingerprint);
    if (!('ids' in plan)) return plan;
    return {
      accounts: plan,
      updateCost: plan.size,
      fingerprint: plan.fingerprint,
      execute(): Executed {
        const result = executeBatch(plan, store, state.faults, state.settings.revokeSessions);
        return {
          // The stored body is the compact result, rendered again on replay (see BatchResult).
          response: { status: 200, contentType: JSON_CONTENT_TYPE, headers: {}, body: () => result.toJson() },
          outcome: 'ok',
          applied: result.appliedIds(),
          tally: {
            applied: result.applied,
            unchanged: result.unchanged,
            failed: result.failed,
            revoked: result.revokedCount,
          },
        };
      },
    };
  },
};

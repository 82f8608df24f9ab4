import { Sql } from '../db/sql';

/*
 * The fence between commands and calls. A send permit (engine/send-permit.repository.ts) is the one statement after
 * which a worker may start a batch's call, within its send window or never. A command that must stop calls (pause,
 * halt, cancel, a hold, an ended override, an import) commits first, so no permit is granted in its scope after that,
 * then waits until the last permit granted before it has passed its deadline: at most one send window, never waiting
 * on a worker. Below both the commands (waves, support, accounts) and the engine, which import it; it imports neither.
 */

/** Whose outstanding send permits a command waits for. */
export type PermitScope = { waveId: string } | { accountId: number } | 'forward';

/** The fence's two statements and its wait. Each takes the executor it runs on. */
export class SendPermitFence {
  /**
   * Marks a change that can make accounts ineligible (a hold, an import that marks accounts leaked), in the caller's
   * transaction: every permit decided on the accounts as they were before is refused from now on, and permits
   * being decided wait for the commit (busy). Call it last in the transaction: it is held until the commit.
   */
  async bumpEligibilityEpoch(sql: Sql): Promise<void> {
    await sql(`UPDATE eligibility_epoch SET epoch = epoch + 1 WHERE id = 1`);
  }

  /**
   * How long until the last send permit granted so far in `scope` has passed its deadline (0 when none is open).
   * Called by a command after its commit: no permit can be granted in its scope from then on, so once this has
   * elapsed no call that the command forbids can start.
   */
  async openPermitsMs(sql: Sql, scope: PermitScope): Promise<number> {
    const remaining = `GREATEST(0, EXTRACT(EPOCH FROM max(b.send_deadline) - clock_timestamp()) * 1000)::float8 AS ms`;
    const open = `b.state = 'claimed' AND b.send_deadline > clock_timestamp()`;
    const [row] =
      scope === 'forward'
        ? await sql<{ ms: number | null }>(
            `SELECT ${remaining} FROM wave_batches b WHERE b.kind = 'forward' AND ${open}`,
          )
        : 'waveId' in scope
          ? await sql<{ ms: number | null }>(
              `SELECT ${remaining} FROM wave_batches b WHERE b.wave_id = $1 AND ${open}`,
              [scope.waveId],
            )
          : await sql<{ ms: number | null }>(
              `SELECT ${remaining} FROM wave_members m JOIN wave_batches b ON b.id = m.batch_id
                WHERE m.account_id = $1 AND m.state = 'in_flight' AND ${open}`,
              [scope.accountId],
            );
    return Math.ceil(Number(row?.ms ?? 0));
  }

  /** Waits until no send permit granted before now in `scope` can still start a call (at most one send window). */
  async waitForSendPermits(sql: Sql, scope: PermitScope): Promise<void> {
    const ms = await this.openPermitsMs(sql, scope);
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

import { DataSource } from 'typeorm';
import { LoginEvent, loginBucket, RECLOSE_REASON, shouldReclose } from '@app/domain';
import type { OperationService } from '../support/operation.service';
import { Sql, sqlOfDataSource } from '../db/sql';
import { FailureRow, LoginRecloseRepository, RecloseCandidate } from './login-reclose.repository';

/** Closes an account again through the support lane; returns the operation's id. */
export type Reclose = (candidate: RecloseCandidate) => Promise<string>;

/**
 * The support lane's disable of both protocols, as a support agent would ask it: its own prior state recorded by the
 * operation, reason suspected_credential_stuffing, the wave as ticket, audited under the engine's name.
 */
export async function recloseThroughSupport(
  support: Pick<OperationService, 'request'>,
  c: RecloseCandidate,
): Promise<string> {
  const op = await support.request(
    c.login,
    'disable',
    { protocols: ['imap', 'pop3'], reason: RECLOSE_REASON, ticket: `wave:${c.waveId}` },
    'engine:login-events',
  );
  return op.id;
}

/** How long failed-login buckets are kept: past the longest `reclose.windowSeconds` (a day). */
const KEEP_MS = 86_400_000 + 60_000;
const FORGET_EVERY_MS = 60_000;

/**
 * The per-account reaction to credential stuffing (issue 19, a wave's `reclose`): failed logins are noted per
 * (account, address, bucket) in memory and added at each flush, for the accounts a wave with a policy opened only;
 * those accounts are then read back with their window's failures and distinct addresses, the rule decides
 * (`shouldReclose`), each decision is recorded once per (wave, account), and the account is closed again through the
 * support lane (`reclose`). A flush that fails keeps its rows for the next one, as the counts do.
 */
export class LoginReaction {
  private pending = new Map<string, FailureRow>();
  private lastForget = 0;
  readonly stats = { reclosed: 0, errors: 0 };

  constructor(
    private readonly dataSource: DataSource,
    private readonly reclose: Reclose,
    private readonly maxRows: number,
    private readonly repository = new LoginRecloseRepository(),
  ) {}

  /** A failed login, in the bucket of its arrival (LoginIngestService.count), for the next flush; false: buffer full. */
  note(event: LoginEvent, arrivedAt: Date): boolean {
    const bucket = loginBucket(arrivedAt);
    const ip = event.remoteIp ?? 'unknown';
    const id = `${event.login}\u0000${ip}\u0000${bucket.getTime()}`;
    const row = this.pending.get(id);
    if (row) row.failures++;
    else if (this.pending.size >= this.maxRows) return false;
    else this.pending.set(id, { login: event.login, ip, bucket, failures: 1 });
    return true;
  }

  async flush(now: Date): Promise<void> {
    const rows = [...this.pending.values()];
    this.pending = new Map();
    const sql = sqlOfDataSource(this.dataSource);
    try {
      if (rows.length) await this.react(sql, rows, now);
      if (now.getTime() - this.lastForget > FORGET_EVERY_MS) {
        this.lastForget = now.getTime();
        await this.repository.forget(sql, new Date(now.getTime() - KEEP_MS));
      }
    } catch (err) {
      this.stats.errors++;
      this.requeue(rows);
      throw err;
    }
  }

  /** Rows of a flush that failed, merged with what came since (within the buffer bound). */
  private requeue(rows: readonly FailureRow[]): void {
    for (const row of rows) {
      const id = `${row.login}\u0000${row.ip}\u0000${row.bucket.getTime()}`;
      const newer = this.pending.get(id);
      if (newer) newer.failures += row.failures;
      else if (this.pending.size < this.maxRows) this.pending.set(id, { ...row });
    }
  }

  private async react(sql: Sql, rows: FailureRow[], now: Date): Promise<void> {
    const accounts = await this.repository.addFailures(sql, rows);
    if (!accounts.length) return;
    const candidates = await this.repository.candidates(sql, accounts, loginBucket(now));
    const decided = await this.repository.decide(
      sql,
      candidates.filter((c) => shouldReclose(c, c.policy)),
    );
    for (const candidate of decided) {
      let operationId: string;
      try {
        operationId = await this.reclose(candidate);
      } catch (err) {
        // Not closed: forget the decision, so the next failed login decides again.
        await this.repository.undecide(sql, candidate.waveId, candidate.accountId);
        throw err;
      }
      await this.repository.linkOperation(sql, candidate.waveId, candidate.accountId, operationId);
      this.stats.reclosed++;
    }
  }
}

import { Gate, LOGIN_BUCKET_SECONDS, loginBucket, LoginInput } from '@app/domain';
import { Sql } from '../db/sql';
import { LoginCountRepository } from '../logins/login-count.repository';

const LOGIN_METRICS: readonly Gate['metric'][] = ['login_failures_per_minute', 'login_failure_ratio'];

/**
 * The inputs of one wave's login gates (issue 19): the counts over each gate's window (whole 10 s buckets, the
 * current one included) for the accounts the wave opened (in the gate's cohort, or all), the control cohort's over
 * every account, and when the stream last spoke (read once per wave).
 */
export class LoginGates {
  constructor(private readonly counts = new LoginCountRepository()) {}

  async inputs(sql: Sql, waveId: string, gates: readonly Gate[], now: Date): Promise<Map<string, LoginInput>> {
    const result = new Map<string, LoginInput>();
    const login = gates.filter((g) => LOGIN_METRICS.includes(g.metric));
    if (!login.length) return result;
    const { lastEventAt } = await this.counts.stream(sql);
    for (const gate of login) {
      const since = new Date(loginBucket(now).getTime() - (gate.windowSeconds - LOGIN_BUCKET_SECONDS) * 1000);
      const window = {
        ...(await this.counts.totals(sql, { waveId, cohort: gate.cohort ?? null }, since)),
        windowSeconds: gate.windowSeconds,
      };
      const control = gate.relativeTo
        ? {
            ...(await this.counts.totals(sql, { waveId: null, cohort: gate.relativeTo.cohort }, since)),
            windowSeconds: gate.windowSeconds,
          }
        : undefined;
      result.set(gate.name, { window, control, lastEventAt });
    }
    return result;
  }
}

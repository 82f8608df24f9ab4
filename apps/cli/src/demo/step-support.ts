import { operationEnded } from '@app/domain';
import type { Account, Operation } from './api.types';
import { duration } from './format';
import { sleep, Story, SupportAction } from './story';

const OPERATION_TIMEOUT_MS = 30_000;

function access(a: Account): string {
  const on = [a.access.imap && 'IMAP', a.access.pop3 && 'POP3'].filter(Boolean);
  return on.length ? `${on.join('+')} open` : 'IMAP and POP3 closed';
}

function eligibility(a: Account): string {
  return a.eligibility.eligible ? 'eligible' : `not eligible (${a.eligibility.reason ?? '?'})`;
}

/**
 * A support agent changes one account (support key): looks it up, asks for the change with a reason and a ticket
 * (POST /accounts/{login}/enable, /disable or /rollback: the priority lane, ahead of the waves), then polls the operation
 * (GET /operations/{id}) until the mailstore has answered, and looks the account up again.
 */
export async function supportChange(
  story: Story,
  kind: 'enable' | 'disable' | 'rollback',
  login: string,
  reason: string,
  ticket: string,
  /** Enable only: open an account waves hold back (a support hold, or a leaked password never reset). */
  override = false,
): Promise<SupportAction> {
  const { term } = story;
  const path = `/accounts/${encodeURIComponent(login)}`;
  const before = await story.support.get<Account>(path);
  term.say(`     GET /accounts/${login}: ${access(before)}; ${eligibility(before)}; leaked ${before.leaked}`);
  const started = Date.now();
  const queued = await story.support.post<Operation>(`${path}/${kind}`, {
    reason,
    ticket,
    ...(override ? { override } : {}),
  });
  const overridden = queued.overrides?.filter((o) => o !== 'not_found') ?? [];
  term.say(
    `     POST /accounts/${login}/${kind} {reason, ticket ${ticket}${override ? ', override: true' : ''}} → 202, ` +
      `operation ${queued.id} ${queued.state}` +
      (overridden.length
        ? `; overrides ${overridden.join(', ')}` +
          (queued.overrideExpiresAt ? ` until ${queued.overrideExpiresAt} (ops: GET /overrides)` : '')
        : ''),
  );
  let op = queued;
  while (!operationEnded(op.state)) {
    if (Date.now() - started > OPERATION_TIMEOUT_MS) {
      throw new Error(`operation ${op.id} (${kind} ${login}) still ${op.state} after ${OPERATION_TIMEOUT_MS / 1000} s`);
    }
    await sleep(100);
    op = await story.support.get<Operation>(`/operations/${op.id}`);
  }
  const tookMs = Date.now() - started;
  const after = await story.support.get<Account>(path);
  const style = op.state === 'succeeded' ? term.paint.green : term.paint.red;
  term.say(
    `     GET /operations/${op.id}: ${style(op.state)} (${op.outcome ?? 'no outcome'}) by ${op.actor} in ` +
      `${duration(tookMs)}${op.error ? `, error ${JSON.stringify(op.error)}` : ''}; the account now: ${access(after)}` +
      (after.override?.reason ? `, override recorded (${after.override.ticket ?? ''})` : ''),
  );
  const action: SupportAction = { kind, login, reason, ticket, before, operation: op, tookMs, after };
  story.supportActions.push(action);
  return action;
}

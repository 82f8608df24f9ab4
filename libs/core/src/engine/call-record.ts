import { assertNever } from '@app/domain';
import { BatchResult, Outcome } from '@app/mailstore';

/*
 * The log of mailstore calls (mailstore_calls), for the latency and error-rate metrics and the gates: how an
 * outcome is written there by the waves and the support lane, and how it is read back as an error.
 */

/** A call's outcome as logged and labelled in metrics: its kind, with the code when it carries one. */
export function callOutcomeLabel(outcome: Outcome<unknown>): string {
  switch (outcome.kind) {
    case 'ok':
    case 'rate_limited':
    case 'unavailable':
    case 'in_progress':
      return outcome.kind;
    case 'retryable':
    case 'permanent':
      return `${outcome.kind}:${outcome.code}`;
    default:
      return assertNever(outcome, 'outcome');
  }
}

/** The HTTP status a call came back with; null when none did (network failures, timeouts). */
export function callHttpStatus(outcome: Outcome<unknown>): number | null {
  return 'status' in outcome ? (outcome.status ?? null) : null;
}

/** The logged calls that count as errors (labels of callOutcomeLabel): 5xx and 503, timeouts and resets, 4xx. */
export const CALL_FAILED_SQL = `(outcome LIKE 'retryable%' OR outcome LIKE 'permanent%' OR outcome = 'unavailable')`;

/** The call that produced a batch's answer, logged with the settle (latency and error-rate metrics). */
export interface CallRecord {
  startedAt: Date;
  latencyMs: number;
  httpStatus: number | null;
  outcome: string;
  itemErrors: number;
}

/** The log row of a batch call, from its outcome. */
export function callRecord(startedAt: Date, outcome: Outcome<BatchResult>): CallRecord {
  return {
    startedAt,
    latencyMs: outcome.latencyMs,
    httpStatus: callHttpStatus(outcome),
    outcome: callOutcomeLabel(outcome),
    itemErrors: outcome.kind === 'ok' ? outcome.value.summary.failed : 0,
  };
}

/** A support operation's states (operations.state): queued → running → succeeded | failed. */
export const OPERATION_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;

export type OperationState = (typeof OPERATION_STATES)[number];

/** Whether an operation has ended: its outcome is final (the runner skips it, pollers stop). */
export function operationEnded(state: OperationState): boolean {
  return state === 'succeeded' || state === 'failed';
}

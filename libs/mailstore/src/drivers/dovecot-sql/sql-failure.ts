import type { SqlFailure } from './flag-store';

/** A socket-level failure (no answer from the server), named by Node's error code. */
export function connectionFailure(code: string, detail: string): SqlFailure {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { kind: 'retryable', code: 'connection_refused', answered: false, detail };
    case 'ETIMEDOUT':
    case 'PROTOCOL_SEQUENCE_TIMEOUT':
      return { kind: 'retryable', code: 'timeout', answered: false, detail };
    default:
      // Reset, "Connection terminated unexpectedly", a pool that was ended: the connection went away.
      return { kind: 'retryable', code: 'connection_reset', answered: false, detail };
  }
}

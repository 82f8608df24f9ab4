/**
 * A failure an operator fixes (a database role to set up, a dependency to start or a URL to correct) says so with
 * `operatorFix: true` (DatabaseRoleError, DependencyUnreachableError): its message says what and how, and is all a
 * process prints about it. Anything else is a bug and keeps its stack. (A marker, not a base class: libs/db is loaded
 * by Jest's global setup, where the @app/* paths do not resolve.)
 */
export function isOperatorFix(err: unknown): err is Error {
  return err instanceof Error && (err as { operatorFix?: unknown }).operatorFix === true;
}

/** The line a process prints when it cannot start. */
export function startupFailureLine(processName: string, err: unknown): string {
  const detail = isOperatorFix(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `${processName} failed to start: ${detail}`;
}

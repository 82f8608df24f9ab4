/**
 * The process's uncaught exceptions from now until `stop()`: for a test that a failure stays the caller's (an 'error'
 * event with no listener is one, and ends a real process).
 */
export function recordUncaught(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onUncaught = (err: unknown) => errors.push(err);
  process.on('uncaughtException', onUncaught);
  return { errors, stop: () => process.off('uncaughtException', onUncaught) };
}

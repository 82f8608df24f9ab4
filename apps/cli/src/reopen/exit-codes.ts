/**
 * What the `reopen` CLI's exit code says, so a script (or the shell at 3 am) can tell "I typed it wrong" from "the API
 * said no" from "the API is down" from "the wave stopped". docs/cli.md lists the same table.
 */
export const EXIT = {
  /** Done: the API accepted the command (or `watch`: the wave completed). */
  ok: 0,
  /** Bad usage: an unknown command or option, a missing argument, no URL or key, an unreadable plan or profile file. */
  usage: 1,
  /** The API refused the request (4xx): its problem's title, detail and fields are printed. */
  refused: 2,
  /** The API could not be reached, timed out or failed (5xx). */
  unreachable: 3,
  /** `watch`: the wave halted (a gate), waiting for ops to resume or roll back. */
  halted: 4,
  /** `watch`: the wave ended without completing (cancelled, rolled back). */
  ended: 5,
  /** `accounts enable|disable`: the operation failed at the mailstore (its outcome and error are printed). */
  failed: 6,
  /** `preflight`: at least one check failed (no-go); its lines say which. */
  nogo: 7,
  /** A bug of the CLI (its stack is printed): EX_SOFTWARE of sysexits.h. */
  internal: 70,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  ${EXIT.ok}  ok (watch: the wave completed)
  ${EXIT.usage}  bad usage: unknown command or option, missing argument, no URL or key, unreadable plan or profile
  ${EXIT.refused}  the API refused the request (4xx): its problem (title, detail, fields) is printed
  ${EXIT.unreachable}  the API is unreachable, timed out or failed (5xx)
  ${EXIT.halted}  watch: the wave halted
  ${EXIT.ended}  watch: the wave was cancelled or rolled back
  ${EXIT.failed}  accounts enable/disable: the operation failed at the mailstore (outcome and error printed)
  ${EXIT.nogo}  preflight: a check failed (no-go)
  ${EXIT.internal} a bug of the CLI (its stack is printed)`;

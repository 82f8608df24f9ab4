import { Command, CommanderError } from 'commander';

/**
 * The one way both CLIs (`reopen-admin`, `reopen`) read a command line: commander (a well-kept parser, v14, the last
 * line that runs on Node 20), strict (an unknown option or a stray argument is an error, never ignored), every
 * command answering --help. Parsing never runs anything and never exits the process: a command's action only hands
 * back what to run, so the caller decides the exit code and the tests read the outcome.
 */
export type CommandLine<R> =
  | { kind: 'run'; value: R }
  | { kind: 'help'; text: string }
  /** `error.code` is commander's (commander.unknownOption, commander.missingArgument, …); `text` what it printed. */
  | { kind: 'usage_error'; error: CommanderError; text: string };

/**
 * Parses `argv` (the arguments after the program) with the program `build` returns; its actions call `emit` with
 * what to run. No command given counts as a usage error (commander shows the help on stderr then).
 */
export function parseWith<R>(build: (emit: (value: R) => void) => Command, argv: readonly string[]): CommandLine<R> {
  let value: { v: R } | null = null;
  let out = '';
  let err = '';
  const root = build((v) => (value = { v }));
  for (const cmd of commandTree(root)) {
    cmd
      .exitOverride()
      .showSuggestionAfterError(false)
      .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  }
  try {
    root.parse([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // --help, -h, `help [command]`: commander answers with exit code 0; a bare group (no sub-command) with 1.
    if ((e.code === 'commander.helpDisplayed' || e.code === 'commander.help') && e.exitCode === 0)
      return { kind: 'help', text: out.trimEnd() };
    return { kind: 'usage_error', error: e, text: (err || out).trimEnd() };
  }
  if (value === null) throw new Error('a command line parsed without running an action: a command has no action');
  return { kind: 'run', value: (value as { v: R }).v };
}

/** A command and all its sub-commands, depth first. */
export function commandTree(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(commandTree)];
}

/** The help a program prints for `path` (e.g. [] for the whole program, ['waves', 'pause'] for one command). */
export function helpText(root: Command, path: readonly string[] = []): string {
  let cmd = root;
  for (const name of path) {
    const sub = cmd.commands.find((c) => c.name() === name);
    if (!sub) throw new Error(`no command ${[...path].join(' ')}`);
    cmd = sub;
  }
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text.trimEnd();
}

import { Command } from 'commander';
import { API_ROLES } from '@app/core';
import { helpText, parseWith } from './command-line';

/**
 * The admin commands and their arguments, read by the one parser both CLIs share (command-line.ts: commander,
 * strict): an unknown option or a stray argument is a usage error, never ignored (`--partal` once ran an
 * all-or-nothing import). Every command answers `--help`.
 */
interface CommandSpec {
  /** After the command name: its positionals and options, as the help shows them. */
  synopsis: string;
  summary: string;
  options: Record<string, { type: 'string' | 'boolean' }>;
  /** The positionals' names, all required. */
  args: readonly string[];
}

export const COMMANDS = {
  migrate: {
    synopsis: '',
    summary:
      'apply pending database migrations as the owner (creates the database if missing), then create or update the ' +
      'runtime role and its grants',
    options: {},
    args: [],
  },
  'import-accounts': {
    synopsis: 'FILE.csv [--partial] [--json]',
    summary:
      'import accounts (header: login,cohorts,leaked,password_changed_at); all-or-nothing unless --partial ' +
      '(imports the good lines, reports the others); --json prints the report as JSON',
    options: { partial: { type: 'boolean' }, json: { type: 'boolean' } },
    args: ['FILE.csv'],
  },
  'create-api-key': {
    synopsis: '--role ROLE --name NAME',
    summary: `create an API key (roles: ${API_ROLES.join(', ')}); prints the secret once`,
    options: { role: { type: 'string' }, name: { type: 'string' } },
    args: [],
  },
  'list-api-keys': {
    synopsis: '[--json]',
    summary: 'list API keys: id, role, name, prefix, created, last used, revoked',
    options: { json: { type: 'boolean' } },
    args: [],
  },
  'revoke-api-key': { synopsis: 'ID', summary: 'revoke an API key', options: {}, args: ['ID'] },
  'check-config': {
    synopsis: '[--probe] [--json]',
    summary:
      "check the environment as the API and the worker read it at boot, every problem at once (the service's " +
      "variables and the MAILSTORE_DRIVER's); --probe then asks the mail server through the driver whether it " +
      'answers; exit 1 on a problem or a failed probe',
    options: { probe: { type: 'boolean' }, json: { type: 'boolean' } },
    args: [],
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

/**
 * How the help and the error lines name the CLI: `npm run cli --` in a checkout (which builds first), `reopen-admin` in
 * the container image (its wrapper, deploy/reopen-admin, sets REOPEN_CLI), where there is nothing to build.
 */
const DEFAULT_PROGRAM = 'npm run cli --';

interface AdminRun {
  command: CommandName;
  positionals: string[];
  options: Record<string, string | boolean>;
}

function adminProgram(program: string, emit: (run: AdminRun) => void): Command {
  const root = new Command(program).usage('<command> [options]   (every command takes --help)');
  for (const [name, spec] of Object.entries(COMMANDS) as [CommandName, CommandSpec][]) {
    const sub = root.command(name).usage(spec.synopsis).description(spec.summary);
    for (const arg of spec.args) sub.argument(`<${arg}>`);
    for (const [option, { type }] of Object.entries(spec.options))
      sub.option(type === 'boolean' ? `--${option}` : `--${option} <${option.toUpperCase()}>`);
    sub.action((...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      emit({ command: name, positionals: cmd.args, options: cmd.opts() });
    });
  }
  return root;
}

export function usage(program = DEFAULT_PROGRAM): string {
  return helpText(adminProgram(program, () => undefined));
}

/** @internal One command's help as --help prints it (the parser prints it itself; its test compares). */
export function commandHelp(name: CommandName, program = DEFAULT_PROGRAM): string {
  return helpText(
    adminProgram(program, () => undefined),
    [name],
  );
}

export type ParsedCommandLine =
  | ({ kind: 'run' } & AdminRun)
  | { kind: 'help'; text: string }
  /** One line; the exit code is 2. */
  | { kind: 'usage_error'; message: string };

export function parseCommandLine(argv: string[], program = DEFAULT_PROGRAM): ParsedCommandLine {
  let root: Command | undefined;
  const line = parseWith((emit: (run: AdminRun) => void) => (root = adminProgram(program, emit)), argv);
  if (line.kind !== 'usage_error') return line.kind === 'run' ? { kind: 'run', ...line.value } : line;
  const [name] = argv;
  const known = name !== undefined && Object.hasOwn(COMMANDS, name);
  const { code, message } = line.error;
  if (!known) {
    const why = name === undefined || code === 'commander.help' ? 'no command given' : `unknown command "${name}"`;
    return { kind: 'usage_error', message: `${why}\n\n${usage(program)}` };
  }
  const command = name as CommandName;
  const spec: CommandSpec = COMMANDS[command];
  if (code === 'commander.missingArgument' || code === 'commander.excessArguments') {
    // The operands commander read for the command before it refused them.
    const got = root!.commands.find((c) => c.name() === command)!.args.length;
    const wanted = spec.args.length === 0 ? 'no arguments' : `${spec.args.length} argument`;
    return {
      kind: 'usage_error',
      message: `${command} takes ${wanted}, got ${got}: ${program} ${`${command} ${spec.synopsis}`.trimEnd()}`,
    };
  }
  // commander's own line ("error: unknown option '--partal'"), said as the admin CLI always said it.
  const said = message.replace(/^error: /, '').replace(/^unknown option/, 'Unknown option');
  return { kind: 'usage_error', message: `${command}: ${said} (see ${program} ${command} --help)` };
}

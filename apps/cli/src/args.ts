import { parseArgs as parseNodeArgs } from 'node:util';
import { API_ROLES } from '@app/core';

/**
 * The admin commands and their arguments, parsed strictly by Node's own util.parseArgs (a well-kept parser in the
 * standard library; the demo uses it too): an unknown option or a stray argument is a usage error, never ignored
 * (`--partal` once ran an all-or-nothing import). Every command answers `--help`.
 */
interface CommandSpec {
  /** After the command name: its positionals and options, as the help shows them. */
  synopsis: string;
  summary: string;
  options: Record<string, { type: 'string' | 'boolean' }>;
  positionals: number;
}

export const COMMANDS = {
  migrate: {
    synopsis: '',
    summary:
      'apply pending database migrations as the owner (creates the database if missing), then create or update the ' +
      'runtime role and its grants',
    options: {},
    positionals: 0,
  },
  'import-accounts': {
    synopsis: 'FILE.csv [--partial] [--json]',
    summary:
      'import accounts (header: login,cohorts,leaked,password_changed_at); all-or-nothing unless --partial ' +
      '(imports the good lines, reports the others); --json prints the report as JSON',
    options: { partial: { type: 'boolean' }, json: { type: 'boolean' } },
    positionals: 1,
  },
  'create-api-key': {
    synopsis: '--role ROLE --name NAME',
    summary: `create an API key (roles: ${API_ROLES.join(', ')}); prints the secret once`,
    options: { role: { type: 'string' }, name: { type: 'string' } },
    positionals: 0,
  },
  'list-api-keys': {
    synopsis: '[--json]',
    summary: 'list API keys: id, role, name, prefix, created, last used, revoked',
    options: { json: { type: 'boolean' } },
    positionals: 0,
  },
  'revoke-api-key': { synopsis: 'ID', summary: 'revoke an API key', options: {}, positionals: 1 },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

/**
 * How the help and the error lines name the CLI: `npm run cli --` in a checkout (which builds first), `reopen-admin` in
 * the container image (its wrapper, deploy/reopen-admin, sets REOPEN_CLI), where there is nothing to build.
 */
const DEFAULT_PROGRAM = 'npm run cli --';

export function usage(program = DEFAULT_PROGRAM): string {
  return `Usage: ${program} <command> [options]   (every command takes --help)

Commands:
${Object.entries(COMMANDS)
  .map(([name, spec]) => `  ${`${name} ${spec.synopsis}`.trimEnd()}\n      ${spec.summary}`)
  .join('\n')}`;
}

export function commandHelp(name: CommandName, program = DEFAULT_PROGRAM): string {
  const spec: CommandSpec = COMMANDS[name];
  return `Usage: ${program} ${`${name} ${spec.synopsis}`.trimEnd()}\n\n${spec.summary}`;
}

export type ParsedCommandLine =
  | { kind: 'run'; command: CommandName; positionals: string[]; options: Record<string, string | boolean> }
  | { kind: 'help'; text: string }
  /** One line; the exit code is 2. */
  | { kind: 'usage_error'; message: string };

export function parseCommandLine(argv: string[], program = DEFAULT_PROGRAM): ParsedCommandLine {
  const [name, ...rest] = argv;
  if (name === undefined) return { kind: 'usage_error', message: `no command given\n\n${usage(program)}` };
  if (name === 'help' || name === '--help' || name === '-h') return { kind: 'help', text: usage(program) };
  if (!Object.hasOwn(COMMANDS, name))
    return { kind: 'usage_error', message: `unknown command "${name}"\n\n${usage(program)}` };
  const command = name as CommandName;
  const spec: CommandSpec = COMMANDS[command];
  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({
      args: rest,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // Node's own message, without its advice on positionals that start with a dash (none of ours do).
    const first = (err as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/, '');
    return { kind: 'usage_error', message: `${command}: ${first} (see ${program} ${command} --help)` };
  }
  const { help, ...options } = parsed.values as Record<string, string | boolean>;
  if (help === true) return { kind: 'help', text: commandHelp(command, program) };
  if (parsed.positionals.length !== spec.positionals) {
    const wanted = spec.positionals === 0 ? 'no arguments' : `${spec.positionals} argument`;
    return {
      kind: 'usage_error',
      message: `${command} takes ${wanted}, got ${parsed.positionals.length}: ${program} ${`${command} ${spec.synopsis}`.trimEnd()}`,
    };
  }
  return { kind: 'run', command, positionals: parsed.positionals, options };
}

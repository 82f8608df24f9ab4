/** Minimal argv parsing: positionals and `--flag` / `--key value` / `--key=value` options. */
export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | true>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      options[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--') && !BOOLEAN_FLAGS.has(arg.slice(2))) {
      options[arg.slice(2)] = argv[++i]!;
    } else {
      options[arg.slice(2)] = true;
    }
  }
  return { positionals, options };
}

const BOOLEAN_FLAGS = new Set(['partial', 'json', 'help']);

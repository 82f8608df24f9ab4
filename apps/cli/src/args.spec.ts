import { COMMANDS, commandHelp, parseCommandLine, usage } from './args';

describe('admin CLI: strict arguments (issue 16: --partal silently ran an all-or-nothing import)', () => {
  it('parses each command with its own options and positionals', () => {
    expect(parseCommandLine(['import-accounts', 'a.csv', '--partial', '--json'])).toEqual({
      kind: 'run',
      command: 'import-accounts',
      positionals: ['a.csv'],
      options: { partial: true, json: true },
    });
    expect(parseCommandLine(['create-api-key', '--role', 'ops', '--name=alice'])).toEqual({
      kind: 'run',
      command: 'create-api-key',
      positionals: [],
      options: { role: 'ops', name: 'alice' },
    });
    expect(parseCommandLine(['revoke-api-key', 'k1'])).toMatchObject({ kind: 'run', positionals: ['k1'] });
  });

  it.each([
    [['import-accounts', 'a.csv', '--partal'], "import-accounts: Unknown option '--partal'"],
    [['list-api-keys', '--jsonn'], "list-api-keys: Unknown option '--jsonn'"],
    [['migrate', '--partial'], "migrate: Unknown option '--partial'"],
    [['import-accounts'], 'import-accounts takes 1 argument, got 0'],
    [['import-accounts', 'a.csv', 'b.csv'], 'import-accounts takes 1 argument, got 2'],
    [['revoke-api-key'], 'revoke-api-key takes 1 argument, got 0'],
    [['migrate', 'now'], 'migrate takes no arguments, got 1'],
  ])('refuses %j in one line', (argv, start) => {
    const line = parseCommandLine(argv);
    expect(line.kind).toBe('usage_error');
    if (line.kind !== 'usage_error') return;
    expect(line.message.startsWith(start)).toBe(true);
    expect(line.message).not.toContain('\n');
  });

  it('refuses an unknown or missing command with the whole usage', () => {
    expect(parseCommandLine(['imprt'])).toEqual({
      kind: 'usage_error',
      message: `unknown command "imprt"\n\n${usage()}`,
    });
    expect(parseCommandLine([])).toEqual({ kind: 'usage_error', message: `no command given\n\n${usage()}` });
  });

  it('answers --help on every command, and help / --help alone', () => {
    for (const name of Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]) {
      for (const flag of ['--help', '-h']) {
        expect(parseCommandLine([name, flag])).toEqual({ kind: 'help', text: commandHelp(name) });
      }
      expect(commandHelp(name)).toContain(`npm run cli -- ${name}`);
      expect(usage()).toContain(name);
    }
    for (const argv of [['help'], ['--help'], ['-h']])
      expect(parseCommandLine(argv)).toEqual({ kind: 'help', text: usage() });
  });

  it('names the command that works where it runs: reopen-admin in the image, where there is nothing to build', () => {
    expect(parseCommandLine(['--help'], 'reopen-admin')).toEqual({ kind: 'help', text: usage('reopen-admin') });
    expect(usage('reopen-admin')).toMatch(/^Usage: reopen-admin <command> \[options\]/);
    expect(usage('reopen-admin')).not.toContain('npm run');
    expect(parseCommandLine(['create-api-key', '-h'], 'reopen-admin')).toEqual({
      kind: 'help',
      text: commandHelp('create-api-key', 'reopen-admin'),
    });
    expect(commandHelp('create-api-key', 'reopen-admin')).toMatch(/^Usage: reopen-admin create-api-key --role ROLE/);
    expect(parseCommandLine(['import-accounts', 'a.csv', '--partal'], 'reopen-admin')).toEqual({
      kind: 'usage_error',
      message: "import-accounts: Unknown option '--partal' (see reopen-admin import-accounts --help)",
    });
    expect(parseCommandLine(['revoke-api-key'], 'reopen-admin')).toEqual({
      kind: 'usage_error',
      message: 'revoke-api-key takes 1 argument, got 0: reopen-admin revoke-api-key ID',
    });
  });
});

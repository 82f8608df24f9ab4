import { Command, InvalidArgumentError, Option } from 'commander';
import { APPROVAL_STATES, type OperatorCommand, PROTOCOLS, WAVE_STATES } from '@app/domain';
import { CommandLine, commandTree, parseWith } from '../command-line';
import { EXIT_CODES_HELP } from './exit-codes';
import { auditPath, AuditOptions, path, supportBody, withQuery } from './requests';

/** One HTTP call of the API (path under /api/v1, query string included). */
interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** Sent with it (the support changes' Idempotency-Key). */
  headers?: Record<string, string>;
}

/** How a call's answer is shown to a person (with --json the API's JSON is printed as it came). */
export type View =
  | 'waves'
  | 'wave'
  | 'preview'
  | 'command'
  | 'account'
  | 'operation'
  | 'audit'
  | 'approvals'
  | 'approval'
  | 'redelivered'
  | 'workers';

/** What a command line asks for: plain data, so the mapping from arguments to requests is tested without a server. */
type Job =
  | { kind: 'call'; request: ApiRequest; view: View }
  /** POST /waves with the plan file's body. */
  | { kind: 'create'; file: string }
  /** Follows the wave's event stream until it completes, halts or ends. */
  | { kind: 'watch'; waveId: string }
  /** A support change: POST, then (`wait`) GET /operations/{id} until it succeeded or failed. */
  | { kind: 'operation'; request: ApiRequest; wait: boolean }
  /** The emergency stop: every running wave paused, listed again until none is left running (pause-all.ts). */
  | { kind: 'pause-all' }
  /** The go/no-go checks of the night before (preflight.ts). */
  | { kind: 'preflight'; withinHours: number; waves: string[] };

interface GlobalOptions {
  json: boolean;
  profile?: string;
  url?: string;
  timeoutSeconds: number;
}

export interface ReopenRun {
  job: Job;
  global: GlobalOptions;
}

/** The commands that move a wave through its states: POST /waves/{id}/<command>. */
const WAVE_COMMANDS: Record<OperatorCommand, string> = {
  schedule: 'draft → scheduled: starts by itself at its start time',
  unschedule: 'scheduled → draft',
  start: 'draft | scheduled → running now',
  pause: 'running → paused: no new mailstore call starts once answered',
  resume: 'paused | halted → running',
  cancel: '→ cancelled: pending members are not processed',
  rollback: '→ rolling_back: restores every account the wave changed',
};

const CONNECTION_HELP = `
Connection: REOPEN_URL and REOPEN_API_KEY, or a profile of ~/.config/reopen/profiles.json (--profile NAME or
REOPEN_PROFILE; the file must be private: chmod 600). See docs/cli.md.

${EXIT_CODES_HELP}`;

function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
}

function positiveInteger(value: string): number {
  const n = number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = number(value);
  if (n <= 0) throw new InvalidArgumentError('not a positive number');
  return n;
}

function protocols(value: string): string[] {
  const list = value.split(',').map((p) => p.trim());
  const bad = list.find((p) => !(PROTOCOLS as readonly string[]).includes(p));
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not one of ${PROTOCOLS.join(', ')}`);
  return list;
}

/** --reason and --ticket: every support change is audited with both (the API requires them). */
function supportCommand(parent: Command, name: string, summary: string): Command {
  return parent
    .command(name)
    .description(summary)
    .argument('<login>', 'the login, any case')
    .requiredOption('--reason <text>', 'why (audited)')
    .requiredOption('--ticket <id>', 'the support ticket (audited)');
}

/** The `reopen` program. `emit` receives what the parsed command line asks for. */
function reopenProgram(emit: (run: ReopenRun) => void): Command {
  const root = new Command('reopen')
    .description('reopen-access for ops: waves, accounts and the audit log over the HTTP API')
    .option('--json', "machine output: the API's JSON as it answered (watch: one progress view per line)")
    .option(
      '--profile <name>',
      'a profile of the profiles file (default: REOPEN_PROFILE, then REOPEN_URL/REOPEN_API_KEY)',
    )
    .option('--url <url>', "the API's URL, e.g. http://127.0.0.1:3000 (default: REOPEN_URL or the profile's)")
    .option(
      '--timeout <seconds>',
      'give up on a call unanswered after this long (exit 3); not on watch',
      positiveNumber,
      30,
    )
    .addHelpText('after', CONNECTION_HELP);
  const global = (cmd: Command): GlobalOptions => {
    const o = cmd.optsWithGlobals<{ json?: boolean; profile?: string; url?: string; timeout: number }>();
    return { json: o.json === true, profile: o.profile, url: o.url, timeoutSeconds: o.timeout };
  };
  const call = (cmd: Command, request: ApiRequest, view: View) =>
    emit({ job: { kind: 'call', request, view }, global: global(cmd) });

  const waves = root.command('waves').description('list, create, preview, drive and watch waves');
  waves
    .command('list')
    .description('waves, newest first (one page; --cursor for the next)')
    .addOption(new Option('--state <state>', 'only waves in this state').choices(WAVE_STATES))
    .option('--limit <n>', 'at most this many (1–200, default 50)', positiveInteger)
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .action((o: { state?: string; limit?: number; cursor?: string }, cmd: Command) =>
      call(cmd, { method: 'GET', path: withQuery('/waves', { ...o, limit: o.limit?.toString() }) }, 'waves'),
    );
  waves
    .command('show')
    .description('one wave: plan, state and why, rate, members')
    .argument('<id>', 'the wave id')
    .action((id: string, _o: unknown, cmd: Command) => call(cmd, { method: 'GET', path: path('waves', id) }, 'wave'));
  waves
    .command('create')
    .description('create a draft wave from a plan file (YAML or JSON: the body of POST /waves)')
    .requiredOption('-f, --file <plan>', 'the plan file, e.g. plans/health.yaml')
    .action((o: { file: string }, cmd: Command) =>
      emit({ job: { kind: 'create', file: o.file }, global: global(cmd) }),
    );
  waves
    .command('preview')
    .description('who the wave would open and skip, batches and projected duration')
    .argument('<id>', 'the wave id')
    .action((id: string, _o: unknown, cmd: Command) =>
      call(cmd, { method: 'GET', path: path('waves', id, 'preview') }, 'preview'),
    );
  for (const [name, summary] of Object.entries(WAVE_COMMANDS)) {
    if (name === 'pause') continue;
    waves
      .command(name)
      .description(summary)
      .argument('<id>', 'the wave id')
      .action((id: string, _o: unknown, cmd: Command) =>
        call(cmd, { method: 'POST', path: path('waves', id, name) }, 'command'),
      );
  }
  waves
    .command('pause')
    .description(`${WAVE_COMMANDS.pause}; --all: every running wave (the emergency stop)`)
    .argument('[id]', 'the wave id (or --all)')
    .option('--all', 'pause every running wave, listing again until none is left running')
    .action((id: string | undefined, o: { all?: boolean }, cmd: Command) => {
      const all = o.all === true;
      if (all === (id !== undefined)) cmd.error('error: give a wave id or --all (not both)');
      if (all) emit({ job: { kind: 'pause-all' }, global: global(cmd) });
      else call(cmd, { method: 'POST', path: path('waves', id!, 'pause') }, 'command');
    });
  waves
    .command('set-rate')
    .description('change the rate (accounts per second); a running wave follows within 2 s')
    .argument('<id>', 'the wave id')
    .argument('<perSecond>', 'accounts per second', number)
    .action((id: string, ratePerSecond: number, _o: unknown, cmd: Command) =>
      call(cmd, { method: 'PATCH', path: path('waves', id), body: { ratePerSecond } }, 'wave'),
    );
  waves
    .command('watch')
    .description(
      'live progress until the wave completes (exit 0), halts (4) or is cancelled or rolled back (5): bars on a ' +
        'terminal, plain lines otherwise',
    )
    .argument('<id>', 'the wave id')
    .action((waveId: string, _o: unknown, cmd: Command) =>
      emit({ job: { kind: 'watch', waveId }, global: global(cmd) }),
    );

  const accounts = root.command('accounts').description('one account: its state, and support changes');
  accounts
    .command('show')
    .description('access, eligibility, holds and overrides, waves, recent operations')
    .argument('<login>', 'the login, any case')
    .action((login: string, _o: unknown, cmd: Command) =>
      call(cmd, { method: 'GET', path: path('accounts', login) }, 'account'),
    );
  type OperationOptions = {
    reason: string;
    ticket: string;
    protocols?: string[];
    override?: boolean;
    wait: boolean;
    idempotencyKey?: string;
  };
  const operation = (cmd: Command, login: string, kind: 'enable' | 'disable', o: OperationOptions) =>
    emit({
      job: {
        kind: 'operation',
        request: {
          method: 'POST',
          path: path('accounts', login, kind),
          body: supportBody(o),
          ...(o.idempotencyKey === undefined ? {} : { headers: { 'Idempotency-Key': o.idempotencyKey } }),
        },
        wait: o.wait,
      },
      global: global(cmd),
    });
  const IDEMPOTENCY_KEY =
    'your own key for this change (a ticket id): the same command run again under it answers the change it made';
  const NO_WAIT = "answer once queued (the operation's id), without waiting for the mailstore";
  supportCommand(accounts, 'enable', 'open POP/IMAP for this account now, ahead of any wave (support key)')
    .option('--protocols <list>', 'imap,pop3 (default: both)', protocols)
    .option('--override', 'open it even though waves hold it back (held, or a leaked password never reset)')
    .option('--idempotency-key <key>', IDEMPOTENCY_KEY)
    .option('--no-wait', NO_WAIT)
    .action((login: string, o: OperationOptions, cmd: Command) => operation(cmd, login, 'enable', o));
  supportCommand(accounts, 'disable', 're-block this account and revoke its sessions (support key)')
    .option('--protocols <list>', 'imap,pop3 (default: both)', protocols)
    .option('--idempotency-key <key>', IDEMPOTENCY_KEY)
    .option('--no-wait', NO_WAIT)
    .action((login: string, o: OperationOptions, cmd: Command) => operation(cmd, login, 'disable', o));
  supportCommand(accounts, 'hold', 'keep this account out of every wave (support key)').action(
    (login: string, o: { reason: string; ticket: string }, cmd: Command) =>
      call(cmd, { method: 'POST', path: path('accounts', login, 'hold'), body: supportBody(o) }, 'account'),
  );
  supportCommand(accounts, 'release', 'let a held account back into waves (support key)').action(
    (login: string, o: { reason: string; ticket: string }, cmd: Command) =>
      call(cmd, { method: 'DELETE', path: path('accounts', login, 'hold'), body: supportBody(o) }, 'account'),
  );

  const approvals = root
    .command('approvals')
    .description('two-person approval: requests a command made for a second ops key (docs/approvals.md)');
  approvals
    .command('list')
    .description('requests (default: pending), newest first, with what changed since the last approval of the wave')
    .addOption(new Option('--state <state>', 'only requests in this state').choices(APPROVAL_STATES))
    .option('--wave <id>', 'requests of this wave')
    .option('--limit <n>', 'at most this many (1–200, default 50)', positiveInteger)
    .action((o: { state?: string; wave?: string; limit?: number }, cmd: Command) =>
      call(
        cmd,
        {
          method: 'GET',
          path: withQuery('/approvals', { state: o.state, waveId: o.wave, limit: o.limit?.toString() }),
        },
        'approvals',
      ),
    );
  approvals
    .command('show')
    .description('one request: the command, the plan hash and counts it is bound to, whether they still match')
    .argument('<id>', 'the approval request id')
    .action((id: string, _o: unknown, cmd: Command) =>
      call(cmd, { method: 'GET', path: path('approvals', id) }, 'approval'),
    );
  approvals
    .command('approve')
    .description("approve with this ops key (never the requester's own); the requester then sends the command again")
    .argument('<id>', 'the approval request id')
    .option('--note <text>', 'why it is fine (audited)')
    .action((id: string, o: { note?: string }, cmd: Command) =>
      call(
        cmd,
        { method: 'POST', path: path('approvals', id, 'approve'), body: o.note ? { note: o.note } : {} },
        'approval',
      ),
    );
  approvals
    .command('reject')
    .description('reject an open request (the requester may withdraw their own)')
    .argument('<id>', 'the approval request id')
    .requiredOption('--reason <text>', 'why not (audited)')
    .action((id: string, o: { reason: string }, cmd: Command) =>
      call(cmd, { method: 'POST', path: path('approvals', id, 'reject'), body: { reason: o.reason } }, 'approval'),
    );

  root
    .command('subscriptions')
    .description('notification subscriptions (docs/notifications.md)')
    .command('redeliver')
    .description('send failed (given up) deliveries again, once the receiver is fixed: every one of it, or --delivery')
    .argument('<id>', 'the subscription id')
    .option('--delivery <id>', 'only this failed delivery (GET /subscriptions/{id}/deliveries?state=failed)')
    .action((id: string, o: { delivery?: string }, cmd: Command) =>
      call(
        cmd,
        {
          method: 'POST',
          path: o.delivery
            ? path('subscriptions', id, 'deliveries', o.delivery, 'redeliver')
            : path('subscriptions', id, 'deliveries', 'redeliver'),
        },
        'redelivered',
      ),
    );

  root
    .command('workers')
    .description('the worker processes: alive now, and those that stopped in the last hour, with their builds')
    .action((_o: unknown, cmd: Command) => call(cmd, { method: 'GET', path: '/workers' }, 'workers'));

  root
    .command('preflight')
    .description(
      'go/no-go before a wave (ops key): dependencies, workers, the waves scheduled within --within hours and those ' +
        'named (start not missed, eligible members, gates, pending approvals), notifications; exit 7 when a check fails',
    )
    .option('--within <hours>', 'waves scheduled to start within this many hours', positiveNumber, 24)
    .option('--wave <id>', 'also check this wave (repeatable)', (id: string, all: string[] = []) => [...all, id])
    .action((o: { within: number; wave?: string[] }, cmd: Command) =>
      emit({ job: { kind: 'preflight', withinHours: o.within, waves: o.wave ?? [] }, global: global(cmd) }),
    );

  root
    .command('audit')
    .description('the audit log, newest first (one page; --cursor for older entries)')
    .option('--wave <id>', 'entries of this wave')
    .option('--login <login>', 'entries about this account')
    .option('--from <time>', 'at or after this instant (ISO 8601, e.g. 2026-05-09T08:00:00Z)')
    .option('--to <time>', 'before this instant')
    .option('--action <action>', 'an exact action (wave.halt) or a family (support.*)')
    .option('--commands', 'commands only: leave out the per-member ledger (member.*)')
    .option('--limit <n>', 'at most this many (1–500, default 100)', positiveInteger)
    .option('--cursor <cursor>', 'older entries: the cursor the previous page printed')
    .action((o: AuditOptions, cmd: Command) => call(cmd, { method: 'GET', path: auditPath(o) }, 'audit'));

  for (const cmd of commandTree(root)) cmd.configureHelp({ showGlobalOptions: true });
  return root;
}

/** The known command words at the start of `argv` ("waves set-rate"), for the help hint of a usage error. */
export function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  let cmd = reopenProgram(() => undefined);
  for (const word of argv) {
    const sub = cmd.commands.find((c) => c.name() === word);
    if (!sub) break;
    words.push(word);
    cmd = sub;
  }
  return words;
}

export function parseReopen(argv: readonly string[]): CommandLine<ReopenRun> {
  return parseWith(reopenProgram, argv);
}

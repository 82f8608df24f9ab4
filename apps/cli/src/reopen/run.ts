import { setTimeout as sleep } from 'node:timers/promises';
import { operationEnded } from '@app/domain';
import { ApiCallError, ApiClient, Problem } from '../demo/api-client';
import type { Operation } from '../demo/api.types';
import { EXIT } from './exit-codes';
import { readPlan, PlanFileError } from './plan-file';
import { Connection, ConnectionSettingsError, resolveConnection } from './profile';
import { commandWords, parseReopen, ReopenRun } from './program';
import { gatherPreflight, isNoGo, judge, renderChecks } from '../preflight/preflight';
import { pauseAll } from './pause-all';
import { render } from './render';
import { watchWave } from './watch';

export interface ReopenIo {
  env: NodeJS.ProcessEnv;
  home: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Runs one `reopen` command line; returns the exit code (exit-codes.ts). */
export async function runReopen(argv: readonly string[], io: ReopenIo): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const line = parseReopen(argv);
  if (line.kind === 'help') {
    out(line.text);
    return EXIT.ok;
  }
  if (line.kind === 'usage_error') {
    err(line.text);
    // commander's error line alone does not say where help is; its help output (a bare group) needs no hint.
    if (line.error.code !== 'commander.help') err(`(see reopen ${[...commandWords(argv), '--help'].join(' ')})`);
    return EXIT.usage;
  }
  let connection: Connection | undefined;
  try {
    connection = resolveConnection(line.value.global, io.env, io.home);
    return await execute(line.value, connection, io, out);
  } catch (e) {
    if (e instanceof ConnectionSettingsError || e instanceof PlanFileError) {
      err(e.message);
      return EXIT.usage;
    }
    if (e instanceof ApiCallError) {
      if (line.value.global.json && e.problem) out(JSON.stringify(e.problem));
      for (const l of failureLines(e, connection)) err(l);
      return e.status !== null && e.status < 500 ? EXIT.refused : EXIT.unreachable;
    }
    throw e;
  }
}

async function execute(
  { job, global }: ReopenRun,
  connection: Connection,
  io: ReopenIo,
  out: (line: string) => void,
): Promise<number> {
  const client = new ApiClient(connection.origin, connection.apiKey, undefined, global.timeoutSeconds * 1000);
  switch (job.kind) {
    case 'watch':
      return watchWave(client, job.waveId, { json: global.json, stdout: io.stdout });
    case 'create': {
      const created = await client.post<{ id: string; name: string; state: string }>('/waves', readPlan(job.file));
      if (global.json) out(JSON.stringify(created));
      else
        out(
          `created wave ${created.id} "${created.name}" (${created.state}); next: reopen waves preview ${created.id}`,
        );
      return EXIT.ok;
    }
    case 'operation':
      return runOperation(client, job, global, out);
    case 'pause-all':
      return pauseAll(client, out, global.json);
    case 'preflight': {
      const now = Date.now();
      const checks = judge(await gatherPreflight(client, job, now), now);
      if (global.json) out(JSON.stringify({ go: !isNoGo(checks), checks }));
      else for (const l of renderChecks(checks)) out(l);
      return isNoGo(checks) ? EXIT.nogo : EXIT.ok;
    }
    case 'call': {
      const body = await client.call<unknown>(job.request.method, job.request.path, job.request.body);
      if (global.json) out(JSON.stringify(body));
      else for (const l of render(job.view, body)) out(l);
      return EXIT.ok;
    }
  }
}

/** How often a waited operation is read again. */
const OPERATION_POLL_MS = 200;

/**
 * A support change: queued by the POST, then (unless --no-wait) read until it succeeded or failed, within --timeout:
 * support sees the mailstore's answer, not only that the request was taken. Exit 6 when it failed; 3 when it is still
 * running at the timeout (the line says how to follow it).
 */
async function runOperation(
  client: ApiClient,
  job: Extract<ReopenRun['job'], { kind: 'operation' }>,
  global: ReopenRun['global'],
  out: (line: string) => void,
): Promise<number> {
  let op = await client.call<Operation>(job.request.method, job.request.path, job.request.body, job.request.headers);
  const until = Date.now() + global.timeoutSeconds * 1000;
  while (job.wait && !operationEnded(op.state) && Date.now() < until) {
    await sleep(OPERATION_POLL_MS);
    op = await client.get<Operation>(`/operations/${encodeURIComponent(op.id)}`);
  }
  if (global.json) out(JSON.stringify(op));
  else for (const l of render('operation', op)) out(l);
  if (op.state === 'failed') return EXIT.failed;
  if (job.wait && !operationEnded(op.state)) {
    if (!global.json) out(`still ${op.state} after ${global.timeoutSeconds} s: reopen accounts show ${op.login}`);
    return EXIT.unreachable;
  }
  return EXIT.ok;
}

/**
 * What an operator reads when a call fails: the problem's title and detail, each field at fault, what to do. With the
 * connection, an API that does not answer names the URL and where it came from, a 401 or 403 where the key came from.
 */
export function failureLines(e: ApiCallError, via?: Pick<Connection, 'origin' | 'urlSource' | 'keySource'>): string[] {
  if (e.status === null) {
    const line = `cannot reach the API: ${e.method} ${e.url}: ${e.body}`;
    if (!via) return [line];
    return [line, `  the URL ${via.origin} comes from ${via.urlSource}: is the API up, and is this its address?`];
  }
  const p: Problem | null = e.problem;
  if (!p) return [`${e.method} ${e.url} answered ${e.status}: ${e.body.slice(0, 300) || '(empty body)'}`];
  const title = typeof p.title === 'string' ? p.title : `HTTP ${e.status}`;
  const lines = [
    `${e.status < 500 ? 'refused' : 'API failure'}: ${e.status} ${title}${p.code ? ` (${p.code})` : ''}: ${p.detail ?? ''}`.trimEnd(),
  ];
  for (const f of p.errors ?? []) lines.push(`  ${f.field ?? '?'}: ${f.message ?? ''}`);
  if (!p.errors?.length && p.field) lines.push(`  field: ${p.field}`);
  if (typeof p.currentState === 'string') {
    // The API lists only the commands a person can send (OPERATOR_COMMANDS), each one `reopen waves <command>`.
    const allowed = Array.isArray(p.allowed) ? p.allowed.join(', ') : '';
    lines.push(`  the wave is ${p.currentState}${allowed ? `; it accepts: ${allowed}` : ''}`);
  }
  if (via && e.status === 401)
    lines.push(`  the key comes from ${via.keySource}: is it a key of this API (${via.origin}), not revoked?`);
  if (via && e.status === 403)
    lines.push(
      `  the key comes from ${via.keySource}: use a key of the role this command needs (docs/cli.md, "Commands")`,
    );
  if (p.code === 'override_required')
    lines.push('  to open it anyway: the same command with --override (audited; it may need a second ops key)');
  if (p.code === 'approval_required' && typeof p.approvalId === 'string') {
    lines.push(
      `  approval request ${p.approvalId}: another ops key runs \`reopen approvals approve ${p.approvalId}\`,`,
    );
    lines.push('  then send this command again (docs/approvals.md)');
  }
  if (typeof p.requestId === 'string') lines.push(`  request id: ${p.requestId}`);
  return lines;
}

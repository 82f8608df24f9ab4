/**
 * Throughput of the mailstore simulator: account updates per second through POST /v1/access/batch over
 * loopback, with rate limits off and 1M accounts loaded. Every update is a real change (each pass over
 * the accounts flips the desired state), every response is checked, and Idempotency-Key is sent as the
 * service sends it (so the idempotency store does its real work).
 *
 *   npm run build && node dist/bench/sim.bench.js [--seconds=10] [--batch=500] [--concurrency=8]
 *     [--accounts=1000000] [--mode=child|in-process] [--parse=summary|full]
 *
 * --mode=child (default) runs the simulator as its own process (`node dist/apps/mailstore-sim/src/main.js`),
 * so client and server do not share an event loop; in-process measures both on one loop.
 * --parse=summary reads each answer's summary (its first bytes) and fully parses every 50th; full parses all
 * of them (what a real client pays on its side, on the same 2 cores). The last line printed is one JSON object with the figure and conditions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool, type Dispatcher } from 'undici';
import { generatedLogin, startSimulator } from '@app/mailstore-sim';

interface Args {
  seconds: number;
  warmupSeconds: number;
  batch: number;
  concurrency: number;
  accounts: number;
  mode: 'child' | 'in-process';
  parse: 'summary' | 'full';
}

interface RunningSim {
  origin: string;
  stop(): Promise<void>;
}

interface SimStats {
  rssMb: number;
  cpuMs: number;
}

const FULL_PARSE_EVERY = 50;
const SUMMARY = /"summary":\{"applied":(\d+),"unchanged":(\d+),"failed":(\d+)\}/;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    seconds: 10,
    warmupSeconds: 1,
    batch: 500,
    concurrency: 8,
    accounts: 1_000_000,
    mode: 'child',
    parse: 'summary',
  };
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.+)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}`);
    const [, name, value] = m;
    if (name === 'mode' && (value === 'child' || value === 'in-process')) args.mode = value;
    else if (name === 'parse' && (value === 'summary' || value === 'full')) args.parse = value;
    else if (name === 'seconds' || name === 'batch' || name === 'concurrency' || name === 'accounts') {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
      args[name] = n;
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (args.accounts % args.batch !== 0) throw new Error('--accounts must be a multiple of --batch');
  return args;
}

async function startChild(accounts: number): Promise<RunningSim> {
  const main = join(__dirname, '..', 'apps', 'mailstore-sim', 'src', 'main.js');
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, SIM_PORT: '0', SIM_ACCOUNTS: String(accounts), SIM_RATE_LIMITS: 'none' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await listeningPort(child);
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Reads the simulator's "listening" JSON line from its stdout. */
async function listeningPort(child: ChildProcess): Promise<number> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; port?: number };
    if (entry.msg === 'mailstore-sim listening' && entry.port) {
      lines.close();
      return entry.port;
    }
  }
  throw new Error('the simulator exited before listening');
}

async function startInProcess(accounts: number): Promise<RunningSim> {
  const sim = await startSimulator({ port: 0, accounts, rateLimits: 'none' });
  return { origin: sim.baseUrl.replace(/\/v1$/, ''), stop: () => sim.close() };
}

/** Batch b covers accounts [b*batch, (b+1)*batch) modulo the population; odd passes turn access off again. */
function batchBody(b: number, args: Args): string {
  const first = (b * args.batch) % args.accounts;
  const on = Math.floor((b * args.batch) / args.accounts) % 2 === 0;
  const protocols = on ? '{"imap":true,"pop3":true}' : '{"imap":false,"pop3":false}';
  let items = '';
  for (let k = 0; k < args.batch; k++) {
    items += `${k === 0 ? '' : ','}{"account":"${generatedLogin(first + k + 1)}","protocols":${protocols}}`;
  }
  return `{"items":[${items}],"reason":"bench"}`;
}

async function run(args: Args): Promise<void> {
  const started = Date.now();
  const sim = args.mode === 'child' ? await startChild(args.accounts) : await startInProcess(args.accounts);
  const loadSeconds = (Date.now() - started) / 1000;
  const pool = new Pool(sim.origin, { connections: args.concurrency, pipelining: 1 });
  const runId = Date.now().toString(36);
  let nextBatch = 0;
  let measuring = false;
  let applied = 0;
  let requests = 0;
  let problems = 0;
  let stop = false;

  /** Applied count of one answer: from the summary at its head, or (every FULL_PARSE_EVERY-th) from all of it. */
  const appliedIn = async (body: Dispatcher.ResponseData['body'], status: number, full: boolean): Promise<number> => {
    if (full || status !== 200) {
      const text = await body.text();
      if (status !== 200) throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
      const parsed = JSON.parse(text) as { summary: { applied: number }; results: { status: string }[] };
      if (parsed.results.length !== args.batch || parsed.results.some((r) => r.status !== 'applied')) problems++;
      return parsed.summary.applied;
    }
    // The summary comes first in the simulator's answer: read it from the first chunk, skip decoding the rest.
    let head = '';
    for await (const chunk of body) if (head.length < 256) head += (chunk as Buffer).toString('utf8');
    const m = SUMMARY.exec(head.slice(0, 256));
    if (!m) throw new Error(`no summary in ${head.slice(0, 256)}`);
    return Number(m[1]);
  };

  const worker = async (): Promise<void> => {
    while (!stop) {
      const b = nextBatch++;
      const { statusCode, body } = await pool.request({
        path: '/v1/access/batch',
        method: 'POST',
        headers: {
          authorization: 'Bearer sim-token',
          'content-type': 'application/json',
          'idempotency-key': `bench-${runId}-${b}`,
        },
        body: batchBody(b, args),
      });
      const n = await appliedIn(body, statusCode, args.parse === 'full' || b % FULL_PARSE_EVERY === 0);
      if (n !== args.batch) problems++;
      if (measuring) {
        applied += n;
        requests++;
      }
    }
  };

  const stats = async (): Promise<SimStats> => (await (await fetch(`${sim.origin}/_sim/stats`)).json()) as SimStats;
  const workers = Array.from({ length: args.concurrency }, () => worker());
  await new Promise((resolve) => setTimeout(resolve, args.warmupSeconds * 1000));
  const before = await stats();
  const loadBefore = loadavg()[0];
  measuring = true;
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, args.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const after = await stats();
  stop = true;
  await Promise.all(workers);
  await pool.close();
  await sim.stop();
  if (problems > 0) throw new Error(`${problems} responses were not ${args.batch} applied items`);

  const result = {
    bench: 'sim',
    accountUpdatesPerSecond: Math.round(applied / elapsed),
    requestsPerSecond: Math.round(requests / elapsed),
    batchSize: args.batch,
    concurrency: args.concurrency,
    accounts: args.accounts,
    seconds: Number(elapsed.toFixed(2)),
    mode: args.mode,
    parse: args.parse,
    loadSeconds: Number(loadSeconds.toFixed(2)),
    simRssMb: after.rssMb,
    // The machine is shared: how busy the simulator was, and its work per CPU-second, tell whether the
    // wall-clock figure was limited by the simulator or by everything else running.
    simCpuShare: Number(((after.cpuMs - before.cpuMs) / 1000 / elapsed).toFixed(2)),
    accountUpdatesPerSimCpuSecond: Math.round(applied / ((after.cpuMs - before.cpuMs) / 1000)),
    loadAverage1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
    cpus: cpus().length,
    node: process.version,
  };
  process.stdout.write(
    `sim bench: ${result.accountUpdatesPerSecond} account updates/s (${result.requestsPerSecond} batches/s of ` +
      `${args.batch}, ${args.concurrency} in flight, ${args.mode}), simulator RSS ${result.simRssMb} MB, ` +
      `simulator busy ${result.simCpuShare} core, ${result.accountUpdatesPerSimCpuSecond} updates per simulator CPU-second\n`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

run(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
  process.stderr.write(`sim bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

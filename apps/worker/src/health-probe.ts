/**
 * The worker's container healthcheck (docker-compose.yml runs `node dist/apps/worker/src/health-probe.js` inside the
 * worker's container): asks the worker's health listener on 127.0.0.1:WORKER_HEALTH_PORT, prints one line and exits
 * 0 when it is ready, 1 otherwise (not ready, not answering, or no listener configured). `live` as the argument asks
 * /health/live instead. Plain Node (global fetch), no config loading: it runs every few seconds.
 */
const TIMEOUT_MS = 4000;

interface Answer {
  status?: unknown;
  checks?: Record<string, { status?: string; message?: string }>;
}

export async function probeWorkerHealth(port: string | undefined, route: 'ready' | 'live'): Promise<[number, string]> {
  if (!port || !/^\d+$/.test(port) || Number(port) === 0)
    return [
      1,
      `WORKER_HEALTH_PORT is ${port ? `"${port}"` : 'not set'}: set the port the worker's health listener uses`,
    ];
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}/health/${route}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return [1, `worker not answering on 127.0.0.1:${port} (${cause})`];
  }
  const body = (await res.json().catch(() => ({}))) as Answer;
  const checks = Object.entries(body.checks ?? {})
    .map(([name, c]) => `${name} ${c.status ?? '?'}${c.message ? ` (${c.message})` : ''}`)
    .join(', ');
  const state = route === 'live' ? 'live' : 'ready';
  return res.status === 200
    ? [0, `worker ${state}${checks ? `: ${checks}` : ''}`]
    : [1, `worker not ${state}: HTTP ${res.status}${checks ? `: ${checks}` : ''}`];
}

if (require.main === module) {
  const route = process.argv[2] === 'live' ? 'live' : 'ready';
  void probeWorkerHealth(process.env.WORKER_HEALTH_PORT, route).then(([code, line]) => {
    process.stdout.write(`${line}\n`);
    process.exitCode = code;
  });
}

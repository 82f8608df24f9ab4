import { SimEnvError, simOptionsFromEnv } from './sim-env';
import { startSimulator } from './simulator';
import type { SimulatorOptions } from './sim.types';

/**
 * `npm run start:sim`: the simulator as a process. Configuration comes from SIM_* variables (sim-env.ts);
 * a bad one stops the process before it listens, naming the variable. One JSON line says it listens
 * (tools wait for it and read the port from it); SIGTERM/SIGINT close it cleanly.
 */
async function main(): Promise<void> {
  let options: SimulatorOptions;
  try {
    options = simOptionsFromEnv(process.env);
  } catch (err) {
    if (!(err instanceof SimEnvError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const started = Date.now();
  const sim = await startSimulator(options);
  log({
    msg: 'mailstore-sim listening',
    baseUrl: sim.baseUrl,
    adminUrl: sim.adminUrl,
    port: sim.port,
    accounts: options.accountsCsv ?? options.accounts ?? 'default',
    rateLimits: options.rateLimits ?? 'default',
    startupMs: Date.now() - started,
    pid: process.pid,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => {
        log({ msg: 'mailstore-sim stopped', signal });
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`mailstore-sim: error while closing: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ level: 'info', time: new Date().toISOString(), ...fields })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`mailstore-sim failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { pollUntil } from './poll-until';

/** A free TCP port on the loopback (nothing listens on it once this resolves). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function privateRedisAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

/**
 * A `redis-server` of the test's own on a fixed free port, stopped and started at will (without persistence: it comes
 * back empty, as a restarted cache-configured Redis does), for tests of outages and recovery. Nothing listens on the
 * port until `start()`.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async reserve(): Promise<PrivateRedis> {
    if (!privateRedisAvailable()) throw new Error('redis-server is not on PATH (Debian: apt-get install redis-server)');
    return new PrivateRedis(await freeLoopbackPort());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await pollUntil(
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(this.port, '127.0.0.1');
          s.once('connect', () => (s.destroy(), resolve(true)));
          s.once('error', () => resolve(false));
        }),
      { timeoutMs: 10_000, description: `private redis up on ${this.port}` },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

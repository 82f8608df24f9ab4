import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { freeLoopbackPort, untilListening } from './ports';
import { requireRedisServer } from './prerequisites';

/**
 * A `redis-server` of the test's own on a fixed free port, stopped and started at will (without persistence: it comes
 * back empty, as a restarted cache-configured Redis does), for tests of outages and recovery. Nothing listens on the
 * port until `start()`.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly binary: string,
  ) {}

  /** A free port for it; fails with the one line of `requireRedisServer` when there is no redis-server. */
  static async reserve(): Promise<PrivateRedis> {
    const binary = requireRedisServer();
    return new PrivateRedis(await freeLoopbackPort(), binary);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    this.child = spawn(
      this.binary,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await untilListening(this.port, `private redis up on ${this.port}`);
  }

  /** A Redis that keeps its connections open but answers nothing (SIGSTOP): a frozen host, a partition. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
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

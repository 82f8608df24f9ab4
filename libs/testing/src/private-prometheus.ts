import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll-until';
import { freeLoopbackPort } from './ports';
import { requirePrometheus } from './prerequisites';

export interface PrometheusTarget {
  job: string;
  /** host:port */
  address: string;
  metricsPath?: string;
  /** Sent as `Authorization: Bearer …` (the service's /metrics wants a reader's key). */
  bearerToken?: string;
}

/**
 * A Prometheus of the test's own (Debian's package), on a free loopback port, from a generated config in a temp
 * directory, scraping the given targets (and itself) every `scrapeIntervalSeconds`. Stopped and started at will (a
 * stopped one is what a gate must read as inconclusive); its data goes with the directory on `destroy()`.
 */
export class PrivatePrometheus {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly binary: string,
    private readonly dir: string,
  ) {}

  /** `port`: one chosen beforehand (a service's PROMETHEUS_URL set before its targets exist); default a free one. */
  static async create(
    targets: readonly PrometheusTarget[],
    scrapeIntervalSeconds = 1,
    options: { port?: number } = {},
  ): Promise<PrivatePrometheus> {
    const binary = requirePrometheus();
    const port = options.port ?? (await freeLoopbackPort());
    const dir = mkdtempSync(join(tmpdir(), 'reopen-prometheus-'));
    const jobs = [{ job: 'prometheus', address: `127.0.0.1:${port}` }, ...targets].map(
      (t) =>
        `  - job_name: ${JSON.stringify(t.job)}\n` +
        `    metrics_path: ${JSON.stringify(('metricsPath' in t && t.metricsPath) || '/metrics')}\n` +
        ('bearerToken' in t && t.bearerToken
          ? `    authorization:\n      credentials: ${JSON.stringify(t.bearerToken)}\n`
          : '') +
        `    static_configs:\n      - targets: [${JSON.stringify(t.address)}]\n`,
    );
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: ${scrapeIntervalSeconds}s\n  evaluation_interval: ${scrapeIntervalSeconds}s\n` +
        `scrape_configs:\n${jobs.join('')}`,
    );
    return new PrivatePrometheus(port, binary, dir);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      this.binary,
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await pollUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${this.output}`);
        return (await fetch(`${this.url}/-/ready`).catch(() => null))?.ok === true;
      },
      { timeoutMs: 30_000, description: `private prometheus ready on ${this.port}` },
    );
  }

  /** Until a scrape of `job` has landed (its `up` series exists). */
  async untilScraped(job: string): Promise<void> {
    await pollUntil(
      async () => {
        const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(`up{job="${job}"}`)}`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        return (body.data?.result?.length ?? 0) > 0;
      },
      { timeoutMs: 30_000, description: `prometheus scraped ${job}` },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EnvironmentDto } from '@app/config';
import { HealthServer, startHealthServer } from './worker-health';
import { WorkerMetrics } from './worker-metrics';
import { WorkerRuntime } from './worker-runtime';

/**
 * The health listener on WORKER_HEALTH_PORT (none when unset): the health routes and the worker's /metrics. Started once the worker runs (its module's bootstrap
 * hook comes after the runtime's), so a probe never sees a half-built process; closed after the runtime stopped, so
 * readiness says "stopping" (503) while the consumers and pumps finish instead of refusing connections.
 */
@Injectable()
export class HealthListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: HealthServer | undefined;

  constructor(
    private readonly config: EnvironmentDto,
    private readonly runtime: WorkerRuntime,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** The bound port (WORKER_HEALTH_PORT, or the one picked for 0); undefined without a listener. */
  get port(): number | undefined {
    return this.server?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.WORKER_HEALTH_PORT === undefined) return;
    this.server = await startHealthServer(this.config.WORKER_HEALTH_PORT, {
      ready: () => this.runtime.health(),
      metrics: () => this.metrics.render(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}

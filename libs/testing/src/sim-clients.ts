import { MailstoreClient, type MailstoreClientOptions } from '@app/mailstore';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '@app/mailstore-sim';

/**
 * Simulators, each with the contract's HTTP client on it, for the client's integration tests: `start` one per test
 * (10 accounts, no rate limits unless the test says), `closeAll` in afterEach.
 */
export class SimClients {
  private readonly sims: RunningSimulator[] = [];
  private readonly clients: MailstoreClient[] = [];

  readonly start = async (
    simOptions: SimulatorOptions = {},
    clientOptions: Partial<MailstoreClientOptions> = {},
  ): Promise<{ sim: RunningSimulator; client: MailstoreClient }> => {
    const sim = await startSimulator({ accounts: 10, rateLimits: 'none', ...simOptions });
    this.sims.push(sim);
    const client = new MailstoreClient({
      baseUrl: sim.baseUrl,
      token: 'sim-token',
      requestTimeoutMs: 2_000,
      ...clientOptions,
    });
    this.clients.push(client);
    return { sim, client };
  };

  /** Clients a test made itself (another token, no simulator), closed with the rest. */
  closeLater(...clients: MailstoreClient[]): void {
    this.clients.push(...clients);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.destroy()));
    await Promise.all(this.sims.splice(0).map((s) => s.close()));
  }
}

import type { CreateWaveInput, WaveCommandsService } from '@app/core';
import type { WaveEntity } from '@app/db';
import type { Gate, Protocol, RampStep, ReclosePolicy, TimeWindows } from '@app/domain';

/** Whatever holds the real commands service: an EngineHarness, an API harness's `h`, a bench's services. */
interface WithCommands {
  commands: Pick<WaveCommandsService, 'create' | 'start'>;
}

/**
 * A wave for a test, with defaults, built through the real commands service (after immich's `server/test/factories`):
 *
 *   const wave = await aWave('health').cohorts('health').rate(100_000).batchSize(50).started(h);
 *
 * Each setter returns a new builder, so one can serve as the base of several waves. Only what a setter was given is
 * sent, besides the required name, selector (default `remaining`), protocols (default IMAP and POP) and rate
 * (default 1000/s): the service's own defaults apply to the rest, as for ops.
 */
class WaveBuilder {
  constructor(private readonly input: CreateWaveInput) {}

  private with(change: Partial<CreateWaveInput>): WaveBuilder {
    return new WaveBuilder({ ...this.input, ...change });
  }

  name(name: string): WaveBuilder {
    return this.with({ name });
  }

  description(description: string): WaveBuilder {
    return this.with({ description });
  }

  selector(selector: CreateWaveInput['selector']): WaveBuilder {
    return this.with({ selector });
  }

  cohorts(...cohorts: string[]): WaveBuilder {
    return this.with({ selector: { type: 'cohorts', cohorts } });
  }

  logins(logins: readonly string[]): WaveBuilder {
    return this.with({ selector: { type: 'logins', logins: [...logins] } });
  }

  /** Every account with one of the wave's protocols still off (the default). */
  remaining(): WaveBuilder {
    return this.with({ selector: { type: 'remaining' } });
  }

  protocols(...protocols: Protocol[]): WaveBuilder {
    return this.with({ protocols });
  }

  /** Accounts per second, forward (and rollback, unless `rollbackRate` says otherwise). */
  rate(ratePerSecond: number): WaveBuilder {
    return this.with({ ratePerSecond });
  }

  rollbackRate(rollbackRatePerSecond: number): WaveBuilder {
    return this.with({ rollbackRatePerSecond });
  }

  batchSize(batchSize: number): WaveBuilder {
    return this.with({ batchSize });
  }

  concurrency(concurrency: number): WaveBuilder {
    return this.with({ concurrency });
  }

  ramp(...steps: RampStep[]): WaveBuilder {
    return this.with({ steps });
  }

  gates(...gates: Gate[]): WaveBuilder {
    return this.with({ gates });
  }

  /** The per-account reaction to credential stuffing on the accounts this wave opens. */
  reclose(reclose: ReclosePolicy): WaveBuilder {
    return this.with({ reclose });
  }

  /** Time windows (docs/windows.md). */
  windows(windows: TimeWindows): WaveBuilder {
    return this.with({ windows });
  }

  /** A local wall-clock start (e.g. 2026-05-09T08:00) in an IANA time zone. */
  /** The wave's own two-person approval rules (docs/approvals.md). */
  approvalPolicy(policy: CreateWaveInput['approvalPolicy']): WaveBuilder {
    return this.with({ approvalPolicy: policy });
  }

  schedule(startLocal: string, timeZone: string): WaveBuilder {
    return this.with({ startLocal, timeZone });
  }

  /** The input as ops would send it (`POST /waves` takes the same body). */
  build(): CreateWaveInput {
    return { ...this.input };
  }

  /** Creates the wave (a draft) through the real commands service. */
  create(h: WithCommands, actor = 'ops:test'): Promise<WaveEntity> {
    return h.commands.create(this.build(), actor);
  }

  /** Creates and starts the wave (its membership frozen); resolves with the created wave. */
  async started(h: WithCommands, actor = 'ops:test'): Promise<WaveEntity> {
    const wave = await this.create(h, actor);
    await h.commands.start(wave.id, actor);
    return wave;
  }
}

/** A wave builder (see WaveBuilder), named `name`. */
export function aWave(name = 'test wave'): WaveBuilder {
  return new WaveBuilder({ name, selector: { type: 'remaining' }, protocols: ['imap', 'pop3'], ratePerSecond: 1000 });
}

import { DataSource } from 'typeorm';
import { Mailstore } from '@app/mailstore';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { BatchLeaseRepository } from './batch-lease.repository';
import { CapabilitiesWatch } from './capabilities-watch';
import { BatchSettleRepository } from './batch-settle.repository';
import { EngineMetrics } from './engine-metrics';
import { EngineSettings } from './engine-settings';
import { ForwardBatchRepository } from './forward-batch.repository';
import { PumpSlotRepository } from './pump-slot.repository';
import { RollbackBatchRepository } from './rollback-batch.repository';
import { SendPermitRepository } from './send-permit.repository';
import { Throttle } from './throttle';
import { WaveRuntimeRepository } from './wave-runtime.repository';
import { WaveVerifier } from './wave-verifier';

/** The statements of the hot path, one repository each (SQL only; every method runs on the executor it is given). */
export interface PumpRepositories {
  slots: PumpSlotRepository;
  runtime: WaveRuntimeRepository;
  forward: ForwardBatchRepository;
  rollback: RollbackBatchRepository;
  lease: BatchLeaseRepository;
  permits: SendPermitRepository;
  settle: BatchSettleRepository;
}

export function pumpRepositories(): PumpRepositories {
  return {
    slots: new PumpSlotRepository(),
    runtime: new WaveRuntimeRepository(),
    forward: new ForwardBatchRepository(),
    rollback: new RollbackBatchRepository(),
    lease: new BatchLeaseRepository(),
    permits: new SendPermitRepository(),
    settle: new BatchSettleRepository(),
  };
}

/** What every pump of an engine shares (built once by buildEngine); each pump adds its job. */
export interface PumpContext {
  dataSource: DataSource;
  client: Mailstore;
  /** Reads the capabilities again after a 429 (pumps pace and size by the client's cached ones). */
  capabilities: CapabilitiesWatch;
  throttle: Throttle;
  commands: WaveCommandsService;
  verifier: WaveVerifier;
  settings: EngineSettings;
  repos: PumpRepositories;
  metrics: EngineMetrics;
}

import { Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EnvironmentDto } from '@app/config';
import {
  AccountImportService,
  ApiKeyService,
  AuditQueryService,
  OperationService,
  OverrideService,
  ProgressService,
  SignalService,
  WaveCommandsService,
  WaveQueryService,
} from '@app/core';
import { QueueProducer } from '@app/queue';

const incidentAt = (config: EnvironmentDto) => new Date(config.INCIDENT_AT);

/** The services of libs/core the API calls, built explicitly (some take plain values such as the incident time). */
export const CORE_PROVIDERS: Provider[] = [
  {
    provide: WaveCommandsService,
    inject: [DataSource, QueueProducer],
    useFactory: (ds: DataSource, producer: QueueProducer) => new WaveCommandsService(ds, producer),
  },
  {
    provide: WaveQueryService,
    inject: [DataSource, EnvironmentDto],
    useFactory: (ds: DataSource, config: EnvironmentDto) => new WaveQueryService(ds, incidentAt(config)),
  },
  {
    provide: OperationService,
    inject: [DataSource, QueueProducer, EnvironmentDto],
    useFactory: (ds: DataSource, producer: QueueProducer, config: EnvironmentDto) =>
      new OperationService(ds, producer, incidentAt(config), {
        overrideTtlMs: config.SUPPORT_OVERRIDE_TTL_S * 1000,
      }),
  },
  { provide: OverrideService, inject: [DataSource], useFactory: (ds: DataSource) => new OverrideService(ds) },
  { provide: AccountImportService, inject: [DataSource], useFactory: (ds: DataSource) => new AccountImportService(ds) },
  { provide: ApiKeyService, inject: [DataSource], useFactory: (ds: DataSource) => new ApiKeyService(ds) },
  { provide: AuditQueryService, inject: [DataSource], useFactory: (ds: DataSource) => new AuditQueryService(ds) },
  { provide: SignalService, inject: [DataSource], useFactory: (ds: DataSource) => new SignalService(ds) },
  { provide: ProgressService, inject: [DataSource], useFactory: (ds: DataSource) => new ProgressService(ds) },
];

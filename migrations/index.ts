import { InitialSchema1764270000000 } from './1764270000000-initial-schema';
import { WaveGeneration1764280000000 } from './1764280000000-wave-generation';
import { GateState1764290000000 } from './1764290000000-gate-state';
import { WaveVerification1764300000000 } from './1764300000000-wave-verification';
import { OperationRollback1764310000000 } from './1764310000000-operation-rollback';
import { WaveMembersWithoutFk1764320000000 } from './1764320000000-wave-members-without-fk';
import { RollbackWithoutQueueing1764330000000 } from './1764330000000-rollback-without-queueing';
import { BatchFencing1764340000000 } from './1764340000000-batch-fencing';
import { PumpSlots1764350000000 } from './1764350000000-pump-slots';
import { AuditCommandsIndex1764360000000 } from './1764360000000-audit-commands-index';
import { BatchPriors1764370000000 } from './1764370000000-batch-priors';
import { OverrideExpiry1764385000000 } from './1764385000000-override-expiry';
import { BatchInDoubt1764386000000 } from './1764386000000-batch-in-doubt';
import { AnalyzeWaveMembers1764387000000 } from './1764387000000-analyze-wave-members';
import { LoginCounts1764400000000 } from './1764400000000-login-counts';
import { GateMeasurements1764401000000 } from './1764401000000-gate-measurements';
import { LoginReclose1764402000000 } from './1764402000000-login-reclose';
import { BatchKeySince1764410000000 } from './1764410000000-batch-key-since';
import { BatchParked1764411000000 } from './1764411000000-batch-parked';
import { MailstoreCapabilities1764412000000 } from './1764412000000-mailstore-capabilities';
import { Notifications1764420000000 } from './1764420000000-notifications';
import { Approvals1764421000000 } from './1764421000000-approvals';
import { WaveWindows1764422000000 } from './1764422000000-wave-windows';
import { NotificationGiveUp1764425005000 } from './1764425005000-notification-give-up';
import { BatchHistoryCovering1764425006000 } from './1764425006000-batch-history-covering';
import { RollbackReask1764425020000 } from './1764425020000-rollback-reask';
import { RollbackNotBefore1764425021000 } from './1764425021000-rollback-not-before';
import { BatchUndecided1764425022000 } from './1764425022000-batch-undecided';
import { AttemptedAt1764425023000 } from './1764425023000-attempted-at';
import { ScheduleLatenessBigint1764425030000 } from './1764425030000-schedule-lateness-bigint';
import { GateMeasurementRunSlot1764425040500 } from './1764425040500-gate-measurement-run-slot';
import { OperationClientKey1764425050000 } from './1764425050000-operation-client-key';

/** Every migration, in order. The one DataSource (libs/db) and the tests use this list, never a glob. */
export const MIGRATIONS = [
  InitialSchema1764270000000,
  WaveGeneration1764280000000,
  GateState1764290000000,
  WaveVerification1764300000000,
  OperationRollback1764310000000,
  WaveMembersWithoutFk1764320000000,
  RollbackWithoutQueueing1764330000000,
  BatchFencing1764340000000,
  PumpSlots1764350000000,
  AuditCommandsIndex1764360000000,
  BatchPriors1764370000000,
  OverrideExpiry1764385000000,
  BatchInDoubt1764386000000,
  AnalyzeWaveMembers1764387000000,
  LoginCounts1764400000000,
  GateMeasurements1764401000000,
  LoginReclose1764402000000,
  BatchKeySince1764410000000,
  BatchParked1764411000000,
  MailstoreCapabilities1764412000000,
  Notifications1764420000000,
  Approvals1764421000000,
  WaveWindows1764422000000,
  NotificationGiveUp1764425005000,
  BatchHistoryCovering1764425006000,
  RollbackReask1764425020000,
  RollbackNotBefore1764425021000,
  BatchUndecided1764425022000,
  AttemptedAt1764425023000,
  ScheduleLatenessBigint1764425030000,
  GateMeasurementRunSlot1764425040500,
  OperationClientKey1764425050000,
];

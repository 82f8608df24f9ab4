/**
 * The mailstore provisioning-contract simulator (docs: ../shared/docs/provisioning-contract.md).
 * Start it in-process with startSimulator(), or as a process with `npm run start:sim` (main.ts).
 */
export { generatedLogin } from './account-seed';
/** @internal the call log's clock, for tests in the simulator's process that compare instants with calls' startedAt. */
export { epochMs as simNow } from './call-log';
export { DEFAULT_RATE_LIMITS } from './rate-limiter';
export { startSimulator } from './simulator';
export type { RunningSimulator, SimulatorOptions } from './sim.types';

// Moved to libs/testing (a benchmark, bench:attack, starts the same world); the e2e specs keep importing it from here.
export { startApiHarness, type ApiHarness, type ApiResponse, type CallOptions, type KeyName } from '@app/testing';

export * from './batch.types';
export * from './reconciler';
export * from './throttle';
export * from './wave-pump';
export * from './engine-settings';
export * from './engine-metrics';
export type { CallRecord } from './call-record';
export * from './wave-verifier';
export * from './wave-runtime.repository';

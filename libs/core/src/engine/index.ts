export * from './batch.types';
export * from './reconciler';
export * from './throttle';
export * from './wave-pump';
export * from './wave-verifier';
export * from './wave-runtime.repository';

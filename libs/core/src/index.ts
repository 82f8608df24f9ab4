export * from './accounts';
export * from './auth';
export * from './engine';
export * from './errors';
export * from './support/operation.service';
export * from './waves/wave-commands.service';
export * from './waves/wave.types';
export * from './gates/gate-evaluator';

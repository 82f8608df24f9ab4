export * from './signal.service';
export * from './signal.types';

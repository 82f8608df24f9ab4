export * from './progress.repository';
export * from './progress.service';
export * from './progress.types';
export * from './status-text';
export * from './pace.repository';

export * from './poll-until';
export * from './population';
export * from './test-database';
export * from './test-env';
export * from './test-redis';
export * from './engine-harness';
export * from './private-postgres';

export * from './data-source';
export * from './database-url';
export * from './entities';
export * from './migrate';

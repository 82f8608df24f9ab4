export * from './data-source';
export * from './database-url';
export * from './entities';
export * from './migrate';
export * from './runtime-grants';
export * from './runtime-role';

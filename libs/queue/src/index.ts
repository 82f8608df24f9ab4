export * from './queue.contract';
export * from './queue.producer';
export * from './dependency-watch';
export * from './worker-roster';

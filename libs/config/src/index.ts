export * from './env.dto';
export * from './load-config';
export { readSettings, toNumber } from './settings';
export * from './shutdown';
export * from './startup-failure';

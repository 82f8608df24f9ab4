export * from './env.dto';
export * from './load-config';
export { IntegerFrom, readSettings, toNumber } from './settings';
export * from './shutdown';
export * from './startup-failure';
export * from './api-settings';

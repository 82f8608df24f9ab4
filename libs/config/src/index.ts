export * from './env.dto';
export * from './load-config';
export * from './shutdown';
export * from './startup-failure';

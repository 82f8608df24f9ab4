// The API's and the worker's one logger setup (pino), and Nest's messages through it.
export * from './logger';

// The API's and the worker's one logger setup (pino), and Nest's messages through it; what they must never write.
export * from './logger';
export * from './redaction';

export * from './capabilities';
export { MailstoreClient } from './mailstore.client';
export * from './mailstore.types';
export * from './outcome';
export { withRetries } from './retry';

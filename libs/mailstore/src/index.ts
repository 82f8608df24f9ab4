export * from './capabilities';
export { CLIENT_DEFAULTS } from './client-options';
export { MailstoreClient, parseEtag } from './mailstore.client';
export * from './mailstore.types';
export * from './outcome';
export { DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after';
export { withRetries, type RetryPolicy, type RetryWait } from './retry';
export { sleep, type Sleep } from './sleep';

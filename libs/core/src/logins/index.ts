export * from './login-count.repository';
export * from './login-ingest.service';

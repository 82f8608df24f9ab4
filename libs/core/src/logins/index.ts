export * from './login-count.repository';
export * from './login-ingest.service';
export * from './login-reaction';
export * from './login-reclose.repository';

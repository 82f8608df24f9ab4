export * from './env.dto';
export * from './load-config';
export * from './shutdown';
export * from './startup-failure';
export * from './dovecot-sql.env';

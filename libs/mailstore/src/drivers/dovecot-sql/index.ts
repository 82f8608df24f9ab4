export { DovecotSqlMailstore } from './dovecot-sql.mailstore';
export { DriverOptionsError, type DovecotSqlOptions, type FlagLayout } from './dovecot-sql.options';

/** @internal the dovecot-sql driver builds it (dovecot-sql.driver.ts); exported for the tests. */
export { DovecotSqlMailstore } from './dovecot-sql.mailstore';
export { type DovecotSqlOptions, type FlagLayout } from './dovecot-sql.options';

export * from './poll-until';
// The synthetic population lives in the domain lib (the demo uses it too); tests keep importing it from here.
export {
  accountCsvLine,
  DEFAULT_INCIDENT_AT,
  populationAccount,
  populationCsv,
  populationLogin,
  type PopulationAccount,
  type PopulationOptions,
} from '@app/domain';
export * from './test-database';
export * from './test-env';
export * from './test-redis';
export * from './engine-harness';
export * from './wave-builder';
export * from './wave-counters';
export * from './wave-waits';
export * from './population';
export * from './private-postgres';
export * from './prerequisites';
export * from './worker-process';
export * from './wave-record';
export * from './wave-model-oracle';
export * from './wave-model-commands';
export * from './private-redis';
export * from './private-prometheus';
export * from './ports';
export * from './tcp-gate';
export * from './owed-kick';
export * from './dockerfile';
export * from './private-slapd';
export * from './field-errors';
export * from './passdb-database';
export * from './private-dovecot';
export * from './mail-clients';
export * from './api-process';
export * from './api-harness';
export * from './reopen-binary';
export * from './http-gateway';
export * from './real-login-world';
// A benchmark built on the tests' worlds (bench:attack) runs outside Jest: it opens and closes the run itself.
export { default as openTestRun } from './global-setup';
export { default as closeTestRun } from './global-teardown';
export * from './notification-receiver';
export * from './sim-clients';
export * from './pg-terminating-relay';
export * from './valid-settings';
export * from './login-event';

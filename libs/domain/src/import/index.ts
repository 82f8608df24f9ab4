export * from './account-row';
export * from './csv-line';

export * from './account-row';
export * from './csv-line';
export * from './synthetic-population';

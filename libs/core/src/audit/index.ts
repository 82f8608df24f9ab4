export * from './audit-query.service';
export * from './audit-query.types';

export * from './account-import.service';
export * from './account-import.types';
export * from './line-splitter';
export * from './account.repository';

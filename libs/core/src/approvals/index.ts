export * from './approval.service';
export type { ApprovalSettings, Requester } from './approval-gate';
export type { ApprovalRow } from './approval.repository';

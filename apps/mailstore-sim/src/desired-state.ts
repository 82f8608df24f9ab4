import { IMAP, POP3 } from './account-store';

/**
 * A write's desired state packed in 4 bits: for each protocol, whether it was sent and the value wanted.
 * Only the protocols sent are touched (contract: PATCH "only the protocols sent are touched").
 */
export const IMAP_SET = 1;
export const IMAP_ON = 2;
export const POP3_SET = 4;
export const POP3_ON = 8;

/** The account flags after applying `desired` to `current`. */
export function applyDesired(current: number, desired: number): number {
  let next = current;
  if (desired & IMAP_SET) next = desired & IMAP_ON ? next | IMAP : next & ~IMAP;
  if (desired & POP3_SET) next = desired & POP3_ON ? next | POP3 : next & ~POP3;
  return next;
}

/** True when some protocol goes from on to off: the only case where revokeSessions revokes. */
export function turnsSomethingOff(previous: number, next: number): boolean {
  return (previous & ~next & (IMAP | POP3)) !== 0;
}

/** `{"imap":true,"pop3":false}` for account flags, without building an object. */
export function protocolsJson(flags: number): string {
  return PROTOCOL_JSON[flags & (IMAP | POP3)];
}

const PROTOCOL_JSON = [
  '{"imap":false,"pop3":false}',
  '{"imap":true,"pop3":false}',
  '{"imap":false,"pop3":true}',
  '{"imap":true,"pop3":true}',
];

/** A stable text form of a desired mask, for request fingerprints. */
export function desiredKey(desired: number): string {
  return String.fromCharCode(48 + desired);
}

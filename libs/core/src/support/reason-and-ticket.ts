import { ValidationError } from '../errors';

const MAX_REASON = 500;
const MAX_TICKET = 100;

/** Every support action and every ops action on one account says why and under which ticket (audited). */
export function checkReasonAndTicket(input: { reason: string; ticket: string }): void {
  const errors = [];
  if (typeof input.reason !== 'string' || !input.reason.trim() || input.reason.length > MAX_REASON) {
    errors.push({ field: 'reason', message: `reason must be a non-empty string of at most ${MAX_REASON} characters` });
  }
  if (typeof input.ticket !== 'string' || !input.ticket.trim() || input.ticket.length > MAX_TICKET) {
    errors.push({ field: 'ticket', message: `ticket must be a non-empty string of at most ${MAX_TICKET} characters` });
  }
  if (errors.length) throw new ValidationError(errors);
}

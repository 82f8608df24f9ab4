import { ValidateBy, type ValidationArguments } from 'class-validator';

/** The variables naming where a native driver's two switches live, and how its messages say it. */
interface SwitchLayout {
  driver: string;
  imap: string;
  pop3: string;
  list: string;
  /** 'column' or 'attribute'. */
  unit: string;
  /** What the list variable names, e.g. '(one column listing the allowed protocols)'. */
  listing: string;
}

/**
 * Which of the two layouts a native driver's switches are in, or what is wrong (named after `imap`, the variable the
 * check hangs on): one column/attribute per protocol (IMAP and POP3 together), or one listing the allowed protocols;
 * never both, never neither. The one rule for dovecot-sql's columns and ldap's attributes.
 */
function switchLayoutProblem(l: SwitchLayout, o: Record<string, unknown>): string | undefined {
  const imap = o[l.imap] !== undefined;
  const pop3 = o[l.pop3] !== undefined;
  const list = o[l.list] !== undefined;
  if (list && (imap || pop3)) return `${l.imap}/${l.pop3} and ${l.list} are two layouts: set one`;
  if (!list && !imap && !pop3) {
    return (
      `${l.imap} and ${l.pop3} (one ${l.unit} per protocol) or ${l.list} ${l.listing} ` +
      `is required with MAILSTORE_DRIVER=${l.driver}`
    );
  }
  if (imap !== pop3) {
    return imap
      ? `${l.imap} is set without ${l.pop3}: one ${l.unit} per protocol needs both`
      : `${l.imap} is required with ${l.pop3}`;
  }
  return undefined;
}

/** The layout check as a validator, put on the `imap` variable (always checked). */
export function SwitchLayoutHolds(layout: SwitchLayout): PropertyDecorator {
  const problem = (args?: ValidationArguments) =>
    args ? switchLayoutProblem(layout, args.object as Record<string, unknown>) : undefined;
  return ValidateBy({
    name: `${layout.driver}Layout`,
    validator: {
      validate: (_value, args) => problem(args) === undefined,
      defaultMessage: (args) => problem(args) ?? `${layout.imap}: invalid layout`,
    },
  });
}

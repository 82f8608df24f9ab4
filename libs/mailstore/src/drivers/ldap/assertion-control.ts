import { BerWriter, Control, type Filter } from 'ldapts';

/**
 * The LDAP assertion control (RFC 4528, OID 1.3.6.1.1.12; OpenLDAP announces it in the root DSE's
 * supportedControl): the operation it rides on is applied only if the entry matches the filter, else the server
 * answers `assertionFailed` (122) and changes nothing. ldapts has no class for it; the control's value is the
 * filter's BER encoding, which ldapts' Filter writes. Critical: a server that does not know it must refuse the
 * operation rather than apply it unguarded.
 */
export class AssertionControl extends Control {
  static readonly type = '1.3.6.1.1.12';

  constructor(private readonly filter: Filter) {
    super(AssertionControl.type, { critical: true });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    this.filter.write(value);
    writer.writeBuffer(value.buffer, 0x04);
  }
}

/** RFC 4528 §3: the result code of an operation whose assertion did not hold. */
export const ASSERTION_FAILED = 122;

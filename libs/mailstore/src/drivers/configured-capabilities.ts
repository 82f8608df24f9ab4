import { batchSizeLimit, propagationDelayMs } from '../capabilities';
import type { Capabilities } from '../mailstore.types';
import type { Outcome } from '../outcome';

/**
 * The capability half of `Mailstore` for a native driver (dovecot-sql, ldap), whose capabilities come from its
 * configuration: no I/O, so never a failure, and nothing to refresh.
 */
export abstract class ConfiguredCapabilities {
  protected abstract readonly caps: Capabilities;

  capabilities(): Promise<Outcome<Capabilities>> {
    return Promise.resolve({ kind: 'ok', status: 200, value: this.caps, latencyMs: 0, replayed: false });
  }

  refreshCapabilities(): Promise<Outcome<Capabilities>> {
    return this.capabilities();
  }

  cachedCapabilities(): Capabilities {
    return this.caps;
  }

  batchSizeLimit(): number {
    return batchSizeLimit(this.caps);
  }

  propagationDelayMs(): number {
    return propagationDelayMs(this.caps);
  }
}

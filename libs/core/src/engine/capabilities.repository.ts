import { Capabilities } from '@app/mailstore';
import { Sql } from '../db/sql';

/** The one row of the mailstore's capabilities as a worker last read them (the preview reads it: wave.repository.ts). */
export class CapabilitiesRepository {
  /** Records a read: the document, the batch size limit the engine applies, the advertised update rate, now. */
  async record(sql: Sql, capabilities: Capabilities, batchSizeLimit: number): Promise<void> {
    await sql(
      `INSERT INTO mailstore_capabilities (id, capabilities, batch_size_limit, account_updates_per_second, read_at)
       VALUES (1, $1, $2, $3, now())
       ON CONFLICT (id) DO UPDATE SET capabilities = EXCLUDED.capabilities, batch_size_limit = EXCLUDED.batch_size_limit,
              account_updates_per_second = EXCLUDED.account_updates_per_second, read_at = EXCLUDED.read_at`,
      [JSON.stringify(capabilities), batchSizeLimit, capabilities.rateLimits.accountUpdatesPerSecond],
    );
  }
}

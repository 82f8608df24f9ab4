import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two-person approval (issue 20, docs/approvals.md). `waves.approval_policy`: the wave's own rules on top of the
 * deployment's (it can only tighten them). `approvals`: one row per request for a command that needs a second ops
 * key, bound to `hash` (SHA-256 of the canonical plan, the preview's counts, the command and its input: `plan` and
 * `counts` are kept for the diffs). Never deleted: its state moves pending → approved → executed, or ends rejected,
 * invalidated or expired. At most one open (pending or approved) request per wave, command and input.
 */
export class Approvals1764421000000 implements MigrationInterface {
  name = 'Approvals1764421000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waves ADD COLUMN approval_policy jsonb`);
    await q.query(`CREATE TABLE approvals (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      wave_id uuid REFERENCES waves (id),
      command text NOT NULL,
      rule text NOT NULL,
      args jsonb NOT NULL DEFAULT '{}',
      args_key text NOT NULL,
      plan jsonb,
      counts jsonb,
      hash text NOT NULL,
      state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'rejected', 'executed', 'invalidated', 'expired')),
      requested_by text NOT NULL,
      requested_key text NOT NULL,
      requested_at timestamptz NOT NULL DEFAULT now(),
      decided_by text,
      decided_key text,
      decided_at timestamptz,
      note text,
      ended_reason text,
      executed_at timestamptz,
      expires_at timestamptz NOT NULL,
      CHECK (decided_key IS NULL OR decided_key <> requested_key)
    )`);
    await q.query(
      `CREATE UNIQUE INDEX approvals_open ON approvals (wave_id, command, args_key)
        WHERE state IN ('pending', 'approved')`,
    );
    await q.query(`CREATE INDEX approvals_by_wave ON approvals (wave_id, requested_at DESC)`);
    await q.query(
      `CREATE INDEX approvals_open_expiry ON approvals (expires_at) WHERE state IN ('pending', 'approved')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE approvals`);
    await q.query(`ALTER TABLE waves DROP COLUMN approval_policy`);
  }
}

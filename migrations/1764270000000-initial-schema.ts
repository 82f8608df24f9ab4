import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole data model of the brief, so later work adds behaviour, not reshapes tables.
 *
 * Hot paths and their indexes:
 *  - claiming the next batch of a wave: wave_members_pending_idx (wave_id, seq) WHERE state = 'pending'
 *  - rollback claim: wave_members_rollback_idx (wave_id, seq) WHERE rollback_state = 'pending'
 *  - one login: accounts_login_key (unique)
 *  - progress: wave_counters (one small row per wave and counter), never a COUNT over members
 *  - rate over the last minute / gate windows: wave_batches_completed_idx, mailstore_calls_wave_idx
 */
export class InitialSchema1764270000000 implements MigrationInterface {
  name = 'InitialSchema1764270000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        login               text        NOT NULL,
        cohorts             text[]      NOT NULL DEFAULT '{}',
        leaked              boolean     NOT NULL DEFAULT false,
        password_changed_at timestamptz,
        -- the service's view of the mailstore's state (null: never observed)
        imap_enabled        boolean     NOT NULL DEFAULT false,
        pop3_enabled        boolean     NOT NULL DEFAULT false,
        mailstore_version   integer,
        state_observed_at   timestamptz,
        -- support hold: keeps the account out of every wave
        held                boolean     NOT NULL DEFAULT false,
        hold_reason         text,
        hold_ticket         text,
        held_by             text,
        held_at             timestamptz,
        -- support override of password_reset_required (audited)
        override_reason     text,
        override_ticket     text,
        override_by         text,
        override_at         timestamptz,
        version             integer     NOT NULL DEFAULT 1,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_login_key UNIQUE (login),
        CONSTRAINT accounts_login_lower CHECK (login = lower(login))
      )`);

    await q.query(`
      CREATE TABLE waves (
        id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name                  text        NOT NULL,
        description           text,
        -- {"type":"cohorts","cohorts":[...]} | {"type":"logins","logins":[...]} | {"type":"remaining"}
        selector              jsonb       NOT NULL,
        protocols             text[]      NOT NULL,
        state                 text        NOT NULL DEFAULT 'draft',
        status_reason         text,
        status_detail         jsonb,
        start_local           text,
        time_zone             text,
        start_at              timestamptz,
        rate_per_second       double precision NOT NULL,
        rollback_rate_per_second double precision NOT NULL,
        batch_size            integer     NOT NULL,
        concurrency           integer     NOT NULL DEFAULT 4,
        -- [{"percent":1,"bakeSeconds":1800}, ...]
        steps                 jsonb       NOT NULL DEFAULT '[]',
        -- [{"name","metric","windowSeconds","minSamples","threshold","action",...}, ...]
        gates                 jsonb       NOT NULL DEFAULT '[]',
        current_step          integer     NOT NULL DEFAULT 0,
        step_limit_seq        integer,
        bake_until            timestamptz,
        member_count          integer,
        membership_frozen_at  timestamptz,
        schedule_fired_at     timestamptz,
        schedule_lateness_ms  integer,
        started_at            timestamptz,
        completed_at          timestamptz,
        rollback_started_at   timestamptz,
        rollback_completed_at timestamptz,
        created_by            text        NOT NULL,
        version               integer     NOT NULL DEFAULT 1,
        created_at            timestamptz NOT NULL DEFAULT now(),
        updated_at            timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT waves_state_check CHECK (state IN ('draft','scheduled','running','paused','completed',
          'cancelled','halted','rolling_back','rolled_back')),
        CONSTRAINT waves_protocols_check CHECK (cardinality(protocols) > 0 AND protocols <@ ARRAY['imap','pop3']),
        CONSTRAINT waves_rate_check CHECK (rate_per_second > 0 AND rollback_rate_per_second > 0),
        CONSTRAINT waves_batch_size_check CHECK (batch_size BETWEEN 1 AND 5000),
        CONSTRAINT waves_concurrency_check CHECK (concurrency BETWEEN 1 AND 64)
      )`);
    await q.query(`CREATE INDEX waves_state_idx ON waves (state)`);
    await q.query(`CREATE INDEX waves_scheduled_idx ON waves (start_at) WHERE state = 'scheduled'`);

    // One row per account in a wave's frozen membership, in a deterministic order (seq).
    await q.query(`
      CREATE TABLE wave_members (
        wave_id            uuid        NOT NULL REFERENCES waves(id),
        seq                integer     NOT NULL,
        account_id         bigint      NOT NULL REFERENCES accounts(id),
        -- pending -> in_flight -> enabled | skipped | failed
        state              text        NOT NULL DEFAULT 'pending',
        reason             text,
        batch_id           bigint,
        attempts           smallint    NOT NULL DEFAULT 0,
        idempotency_key    text,
        -- the account's state captured before the first write, restored exactly by rollback
        prior_imap         boolean,
        prior_pop3         boolean,
        prior_version      integer,
        result_version     integer,
        done_at            timestamptz,
        -- rollback: null (not concerned) -> pending -> in_flight -> rolled_back | conflict | failed | unchanged
        rollback_state     text,
        rollback_reason    text,
        rollback_batch_id  bigint,
        rolled_back_at     timestamptz,
        PRIMARY KEY (wave_id, seq),
        CONSTRAINT wave_members_account_once UNIQUE (wave_id, account_id),
        CONSTRAINT wave_members_state_check CHECK (state IN ('pending','in_flight','enabled','skipped','failed','cancelled')),
        CONSTRAINT wave_members_rollback_check CHECK (rollback_state IS NULL OR
          rollback_state IN ('pending','in_flight','rolled_back','unchanged','conflict','failed'))
      )`);
    await q.query(`CREATE INDEX wave_members_pending_idx ON wave_members (wave_id, seq) WHERE state = 'pending'`);
    await q.query(
      `CREATE INDEX wave_members_rollback_idx ON wave_members (wave_id, seq) WHERE rollback_state = 'pending'`,
    );
    await q.query(`CREATE INDEX wave_members_batch_idx ON wave_members (batch_id) WHERE batch_id IS NOT NULL`);
    await q.query(`CREATE INDEX wave_members_account_idx ON wave_members (account_id)`);

    // One row per batch call (forward or rollback): its idempotency key survives retries and restarts.
    await q.query(`
      CREATE TABLE wave_batches (
        id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        wave_id           uuid        NOT NULL REFERENCES waves(id),
        kind              text        NOT NULL,
        batch_no          integer     NOT NULL,
        state             text        NOT NULL DEFAULT 'claimed',
        size              integer     NOT NULL,
        first_seq         integer     NOT NULL,
        last_seq          integer     NOT NULL,
        idempotency_key   text        NOT NULL,
        attempts          smallint    NOT NULL DEFAULT 0,
        claimed_by        text,
        lease_until       timestamptz,
        summary           jsonb,
        created_at        timestamptz NOT NULL DEFAULT now(),
        completed_at      timestamptz,
        CONSTRAINT wave_batches_no UNIQUE (wave_id, kind, batch_no),
        CONSTRAINT wave_batches_key UNIQUE (idempotency_key),
        CONSTRAINT wave_batches_kind_check CHECK (kind IN ('forward','rollback')),
        CONSTRAINT wave_batches_state_check CHECK (state IN ('claimed','done','released'))
      )`);
    await q.query(`CREATE INDEX wave_batches_open_idx ON wave_batches (wave_id, lease_until) WHERE state = 'claimed'`);
    await q.query(
      `CREATE INDEX wave_batches_completed_idx ON wave_batches (wave_id, completed_at) WHERE completed_at IS NOT NULL`,
    );

    // Per-wave counters maintained in the same transactions as the changes they count.
    await q.query(`
      CREATE TABLE wave_counters (
        wave_id uuid   NOT NULL REFERENCES waves(id),
        name    text   NOT NULL,
        value   bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (wave_id, name)
      )`);

    // Single-account operations (support lane).
    await q.query(`
      CREATE TABLE operations (
        id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id       bigint      NOT NULL REFERENCES accounts(id),
        login            text        NOT NULL,
        kind             text        NOT NULL,
        protocols        text[]      NOT NULL,
        reason           text        NOT NULL,
        ticket           text        NOT NULL,
        actor            text        NOT NULL,
        state            text        NOT NULL DEFAULT 'queued',
        outcome          text,
        error            jsonb,
        idempotency_key  text        NOT NULL,
        attempts         smallint    NOT NULL DEFAULT 0,
        prior_imap       boolean,
        prior_pop3       boolean,
        prior_version    integer,
        result_version   integer,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        completed_at     timestamptz,
        CONSTRAINT operations_key UNIQUE (idempotency_key),
        CONSTRAINT operations_kind_check CHECK (kind IN ('enable','disable','rollback')),
        CONSTRAINT operations_state_check CHECK (state IN ('queued','running','succeeded','failed')),
        CONSTRAINT operations_protocols_check CHECK (cardinality(protocols) > 0 AND protocols <@ ARRAY['imap','pop3'])
      )`);
    await q.query(`CREATE INDEX operations_account_idx ON operations (account_id, created_at)`);
    await q.query(`CREATE INDEX operations_open_idx ON operations (created_at) WHERE state IN ('queued','running')`);

    // Append-only ledger and audit log: account transitions and commands, written in the change's transaction.
    await q.query(`
      CREATE TABLE audit_log (
        id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at            timestamptz NOT NULL DEFAULT now(),
        actor         text        NOT NULL,
        action        text        NOT NULL,
        wave_id       uuid,
        account_id    bigint,
        login         text,
        operation_id  uuid,
        reason        text,
        ticket        text,
        before        jsonb,
        after         jsonb,
        detail        jsonb
      )`);
    await q.query(`CREATE INDEX audit_log_wave_idx ON audit_log (wave_id, id) WHERE wave_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_login_idx ON audit_log (login, id) WHERE login IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_at_idx ON audit_log (at)`);
    await q.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);

    // Every call to the mailstore made for a wave or an operation: gates read error rate and latency here.
    await q.query(`
      CREATE TABLE mailstore_calls (
        id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        wave_id       uuid,
        operation_id  uuid,
        batch_id      bigint,
        started_at    timestamptz NOT NULL,
        latency_ms    integer     NOT NULL,
        http_status   integer,
        outcome       text        NOT NULL,
        items         integer     NOT NULL DEFAULT 0,
        item_errors   integer     NOT NULL DEFAULT 0
      )`);
    await q.query(
      `CREATE INDEX mailstore_calls_wave_idx ON mailstore_calls (wave_id, started_at) WHERE wave_id IS NOT NULL`,
    );

    await q.query(`
      CREATE TABLE api_keys (
        id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name          text        NOT NULL,
        role          text        NOT NULL,
        prefix        text        NOT NULL,
        key_hash      text        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        revoked_at    timestamptz,
        last_used_at  timestamptz,
        CONSTRAINT api_keys_hash_key UNIQUE (key_hash),
        CONSTRAINT api_keys_role_check CHECK (role IN ('ops','support','viewer','signals'))
      )`);

    await q.query(`
      CREATE TABLE signals (
        id              bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name            text             NOT NULL,
        value           double precision NOT NULL,
        window_seconds  integer          NOT NULL,
        observed_at     timestamptz      NOT NULL,
        cohort          text,
        received_at     timestamptz      NOT NULL DEFAULT now(),
        source          text,
        CONSTRAINT signals_window_check CHECK (window_seconds > 0)
      )`);
    await q.query(`CREATE INDEX signals_lookup_idx ON signals (name, cohort, observed_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'signals',
      'api_keys',
      'mailstore_calls',
      'audit_log',
      'operations',
      'wave_counters',
      'wave_batches',
      'wave_members',
      'waves',
      'accounts',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS audit_log_append_only()`);
  }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifications (issue 20): subscriptions, the outbox of events, and one delivery per (event, subscription).
 *
 * The outbox is filled by a trigger on audit_log, the one place every change the service reports is recorded in its
 * own transaction: wave commands (WaveCommandRunner), the engine's halts, ramp steps and completions (the same
 * runner), support's requests (OperationService) and approvals all write their audit row there, through `audit()` or
 * a statement's `auditRowsSql`. A trigger catches both paths, and any writer added later, in the same transaction by
 * construction (an event is committed with its change or not at all); a call in each writer could be forgotten. Its
 * WHEN clause lists the notifiable actions, so the per-account ledger rows (`member.*`, millions per wave) never enter
 * the function. The kind is decided by the CASE below, the SQL twin of libs/domain's `notificationKindOf` (pinned by
 * notification-outbox.int-spec.ts).
 *
 * The fan-out to subscriptions happens in the same statement: a subscription receives the events committed after it
 * was created, in the order of their ids within a wave (`stream`: the wave id, '' for events of no wave).
 */
export class Notifications1764420000000 implements MigrationInterface {
  name = 'Notifications1764420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE notification_subscriptions (
        id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name        text        NOT NULL,
        url         text        NOT NULL,
        format      text        NOT NULL CHECK (format IN ('json', 'slack', 'mattermost', 'teams')),
        kinds       text[],
        secret      text        NOT NULL,
        created_by  text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        deleted_at  timestamptz
      )`);
    await q.query(`
      CREATE TABLE notification_events (
        id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id  uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        audit_id  bigint      NOT NULL,
        kind      text        NOT NULL,
        at        timestamptz NOT NULL,
        actor     text        NOT NULL,
        wave_id   uuid,
        login     text,
        reason    text,
        before    jsonb,
        after     jsonb,
        detail    jsonb
      )`);
    await q.query(`
      CREATE TABLE notification_deliveries (
        id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id         bigint      NOT NULL REFERENCES notification_events (id),
        subscription_id  uuid        NOT NULL REFERENCES notification_subscriptions (id),
        stream           text        NOT NULL,
        state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dropped')),
        attempts         int         NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        lease_owner      uuid,
        lease_until      timestamptz,
        last_attempt_at  timestamptz,
        last_status      int,
        last_error       text,
        delivered_at     timestamptz,
        UNIQUE (subscription_id, event_id)
      )`);
    // The claim's heads: the oldest pending delivery of each (subscription, stream).
    await q.query(`CREATE INDEX notification_deliveries_pending_idx ON notification_deliveries (subscription_id, stream, id)
      WHERE state = 'pending'`);
    await q.query(
      `CREATE INDEX notification_deliveries_subscription_idx ON notification_deliveries (subscription_id, id)`,
    );
    await q.query(`
      CREATE FUNCTION notification_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        k text;
        e bigint;
      BEGIN
        k := CASE NEW.action
          WHEN 'wave.schedule' THEN 'wave.scheduled'
          WHEN 'wave.start' THEN 'wave.started'
          WHEN 'wave.fire_schedule' THEN 'wave.started'
          WHEN 'wave.step_pause' THEN 'wave.ramp_step_done'
          WHEN 'wave.pause' THEN 'wave.paused'
          WHEN 'wave.gate_pause' THEN 'wave.paused'
          WHEN 'wave.window_closed' THEN 'wave.paused'
          WHEN 'wave.window_opened' THEN 'wave.resumed'
          WHEN 'wave.halt' THEN 'wave.halted'
          WHEN 'wave.resume' THEN CASE WHEN NEW.actor = 'ramp' THEN NULL ELSE 'wave.resumed' END
          WHEN 'wave.complete' THEN 'wave.completed'
          WHEN 'wave.cancel' THEN 'wave.cancelled'
          WHEN 'wave.rollback' THEN 'wave.rollback_started'
          WHEN 'wave.rollback_complete' THEN 'wave.rollback_finished'
          WHEN 'support.enable_requested' THEN
            CASE WHEN jsonb_typeof(NEW.detail -> 'overrides') = 'array'
                  AND NEW.detail -> 'overrides' ?| ARRAY['support_hold', 'password_reset_required']
                 THEN 'account.override' END
          WHEN 'approval.requested' THEN 'approval.requested'
          WHEN 'approval.given' THEN 'approval.given'
        END;
        IF k IS NULL THEN
          RETURN NULL;
        END IF;
        INSERT INTO notification_events (audit_id, kind, at, actor, wave_id, login, reason, before, after, detail)
        VALUES (NEW.id, k, NEW.at, NEW.actor, NEW.wave_id, NEW.login, NEW.reason, NEW.before, NEW.after, NEW.detail)
        RETURNING id INTO e;
        INSERT INTO notification_deliveries (event_id, subscription_id, stream)
        SELECT e, s.id, coalesce(NEW.wave_id::text, '')
          FROM notification_subscriptions s
         WHERE s.deleted_at IS NULL AND (s.kinds IS NULL OR k = ANY (s.kinds));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_notification_outbox AFTER INSERT ON audit_log
      FOR EACH ROW
      WHEN (NEW.action IN ('wave.schedule', 'wave.start', 'wave.fire_schedule', 'wave.step_pause', 'wave.pause',
                           'wave.gate_pause', 'wave.window_closed', 'wave.window_opened', 'wave.halt', 'wave.resume', 'wave.complete', 'wave.cancel',
                           'wave.rollback', 'wave.rollback_complete', 'support.enable_requested',
                           'approval.requested', 'approval.given'))
      EXECUTE FUNCTION notification_outbox()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS audit_log_notification_outbox ON audit_log`);
    await q.query(`DROP FUNCTION IF EXISTS notification_outbox()`);
    await q.query(`DROP TABLE IF EXISTS notification_deliveries`);
    await q.query(`DROP TABLE IF EXISTS notification_events`);
    await q.query(`DROP TABLE IF EXISTS notification_subscriptions`);
  }
}

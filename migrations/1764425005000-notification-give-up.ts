import { MigrationInterface, QueryRunner } from 'typeorm';

const NOTIFIABLE = `'wave.schedule', 'wave.start', 'wave.fire_schedule', 'wave.step_pause', 'wave.pause',
  'wave.gate_pause', 'wave.window_closed', 'wave.window_opened', 'wave.halt', 'wave.resume', 'wave.complete',
  'wave.cancel', 'wave.rollback', 'wave.rollback_complete', 'support.enable_requested', 'approval.requested',
  'approval.given'`;

/** The outbox's kind of an audit action (the SQL twin of libs/domain's notificationKindOf); `extra`: added WHENs. */
function outboxFunction(extra: string): string {
  return `
    CREATE OR REPLACE FUNCTION notification_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
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
        WHEN 'approval.given' THEN 'approval.given'${extra}
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
    END $$`;
}

async function trigger(q: QueryRunner, actions: string): Promise<void> {
  await q.query(`DROP TRIGGER audit_log_notification_outbox ON audit_log`);
  await q.query(`
    CREATE TRIGGER audit_log_notification_outbox AFTER INSERT ON audit_log
    FOR EACH ROW WHEN (NEW.action IN (${actions})) EXECUTE FUNCTION notification_outbox()`);
}

/**
 * Issue 20's two loose ends.
 *
 * A delivery is no longer retried forever: past NOTIFY_GIVE_UP_AFTER_S (or NOTIFY_MAX_ATTEMPTS) it ends `failed`
 * (`failed_at`, its last status and error kept), which lets the next events of its (subscription, wave) go on; ops may
 * send it again (`redelivered_at` restarts its bound).
 *
 * A scheduled wave whose schedule was approved fires only on the plan and counts that approval saw
 * (`waves.schedule_approval`: the approval id, the plan's hash and the counts, written when the schedule, or an
 * approved change of the scheduled wave, committed; a runtime column, outside the plan an approval hashes). A fire
 * that finds them moved does not start the wave: it goes back to draft, audited `wave.schedule_refused`, which the
 * outbox now reports (kind `wave.schedule_refused`). A wave scheduled under an approval before this migration is bound
 * to that approval's plan and counts (a change approved since then is not: its fire is refused, and it is scheduled
 * again under a new approval).
 */
export class NotificationGiveUp1764425005000 implements MigrationInterface {
  name = 'NotificationGiveUp1764425005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_state_check`);
    await q.query(`ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_state_check
      CHECK (state IN ('pending', 'delivered', 'dropped', 'failed'))`);
    await q.query(`ALTER TABLE notification_deliveries ADD COLUMN failed_at timestamptz,
      ADD COLUMN redelivered_at timestamptz`);
    await q.query(`CREATE INDEX notification_deliveries_failed_idx ON notification_deliveries (subscription_id, id)
      WHERE state = 'failed'`);
    await q.query(`ALTER TABLE waves ADD COLUMN schedule_approval jsonb`);
    // Waves already scheduled under an approval fire on it: its plan and counts, as that approval bound them.
    await q.query(`
      UPDATE waves w SET schedule_approval = jsonb_build_object('approvalId', a.id, 'plan', a.plan, 'counts', a.counts)
        FROM (SELECT DISTINCT ON (wave_id) id, wave_id, plan, counts FROM approvals
               WHERE command = 'schedule' AND state = 'executed' ORDER BY wave_id, executed_at DESC) a
       WHERE w.id = a.wave_id AND w.state = 'scheduled'`);
    await q.query(outboxFunction(`\n        WHEN 'wave.schedule_refused' THEN 'wave.schedule_refused'`));
    await trigger(q, `${NOTIFIABLE}, 'wave.schedule_refused'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await trigger(q, NOTIFIABLE);
    await q.query(outboxFunction(''));
    await q.query(`ALTER TABLE waves DROP COLUMN schedule_approval`);
    await q.query(`DROP INDEX notification_deliveries_failed_idx`);
    await q.query(`UPDATE notification_deliveries SET state = 'pending' WHERE state = 'failed'`);
    await q.query(`ALTER TABLE notification_deliveries DROP COLUMN failed_at, DROP COLUMN redelivered_at`);
    await q.query(`ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_state_check`);
    await q.query(`ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_state_check
      CHECK (state IN ('pending', 'delivered', 'dropped'))`);
  }
}

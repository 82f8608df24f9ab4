import { ApprovalCounts, CanonicalPlan, diffJson, FieldChange } from './approval';

/**
 * What a wave's schedule was approved on (docs/approvals.md): the plan and the preview's counts a second key saw, as
 * stored with the wave when the schedule (or an approved change of the scheduled wave) committed.
 */
export interface ScheduleApproval {
  approvalId: string;
  plan: CanonicalPlan;
  counts: ApprovalCounts | null;
}

/** The held-back reason of an account some other change opened meanwhile (an earlier wave, support). */
const OPENED_MEANWHILE = 'already_enabled';

/**
 * Why the scheduled start may not fire on its approval (every field that moved), or an empty list when it may. The plan must be exactly the one
 * approved (any field moved is listed). The counts may move in one way only: accounts leave `eligible` because they
 * were opened meanwhile (an earlier wave, support): they leave the scope (`remaining`) or become `already_enabled`,
 * by no more than `eligible` dropped. That only narrows whom this wave opens, and a wave scheduled behind another
 * one on the remaining accounts depends on it. At unchanged counts, the eligible accounts must be those approved
 * (`eligibleDigest`). Anything else refuses: more eligible accounts (an import, a hold
 * lifted), a held-back count that moved (accounts held, leaked, reset, imported), no approval on record at all, an
 * approval whose requester's or approver's key was revoked since.
 */
export function scheduleFireRefusal(
  approved: ScheduleApproval | null,
  now: { plan: CanonicalPlan; counts: ApprovalCounts | null },
  /** A key that asked for or gave the approval was revoked since: it vouches for nothing that has not happened. */
  keyRevoked = false,
): FieldChange[] {
  if (!approved) return [{ field: 'approval', before: null, after: 'none on record for this schedule' }];
  if (keyRevoked) {
    return [{ field: 'approval', before: approved.approvalId, after: 'a key that asked for or gave it was revoked' }];
  }
  const planChanges = diffJson(approved.plan, now.plan, 'plan');
  const counts = diffJson(approved.counts, now.counts, 'counts');
  if (!counts.length || !approved.counts || !now.counts) return [...planChanges, ...counts];
  const dropped = approved.counts.eligible - now.counts.eligible;
  const opened = (now.counts.heldBack[OPENED_MEANWHILE] ?? 0) - (approved.counts.heldBack[OPENED_MEANWHILE] ?? 0);
  const narrowed = dropped >= 0 && opened >= 0 && opened <= dropped;
  const tolerated = new Set(narrowed ? ['counts.eligible', `counts.heldBack.${OPENED_MEANWHILE}`] : []);
  // Who is eligible: a set that narrowed has another digest, which says nothing more then; at the same counts it must
  // be the set approved. A schedule approved before the digest existed is held to its counts alone.
  if ((narrowed && dropped > 0) || approved.counts.eligibleDigest === undefined) tolerated.add('counts.eligibleDigest');
  // Refused: every change is listed, the tolerated ones too (what moved, whole).
  const refusing = planChanges.length > 0 || counts.some((c) => !tolerated.has(c.field));
  return refusing ? [...planChanges, ...counts] : [];
}

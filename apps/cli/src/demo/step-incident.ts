import type { CommandResult, WaveProgress } from './api.types';
import { duration, int, percent } from './format';
import { supportChange } from './step-support';
import { PlannedWave, sleep, Story } from './story';
import { FAILED_LOGINS_THRESHOLD } from './wave-plan';

/** Share of wave 2 done when the security team sees the burst. */
const BURST_AT = 0.4;
/** Failed logins per minute on `general` during the burst (threshold 200). */
const BURST = [640, 1420, 1850];
/** The halt stays on screen at least this long before ops resume. */
const MIN_HALT_MS = 3000;

export interface SupportCast {
  /** A health professional on the leaked list who never changed the password: held back by wave 1. */
  heldLogin: string;
  /** A health professional that wave 1 opened, whose change support rolls back. */
  reblockLogin: string;
}

/**
 * Step 4, played while wave 2 runs: a burst of failed logins halts it through its signal gate; while it is halted
 * support re-enables a held account and rolls back wave 1 on another; security calms the signal and ops resume the wave at a
 * higher rate. Driven by the watch loop: tick() is called on every progress view and starts one task at a time.
 */
export class Incident {
  private phase: 'waiting' | 'bursting' | 'halting' | 'handling' | 'done' = 'waiting';
  private task: Promise<void> | null = null;
  failure: Error | null = null;

  constructor(
    private readonly story: Story,
    private readonly wave: PlannedWave,
    private readonly raisedRate: number,
    private readonly cast: SupportCast,
  ) {}

  get done(): boolean {
    return this.phase === 'done' && this.task === null;
  }

  tick(): void {
    const p = this.wave.last;
    if (!p || this.task) return;
    if (this.phase === 'waiting' && p.state === 'running' && p.doneFraction >= BURST_AT) {
      this.run('bursting', () => this.burst());
    } else if (this.phase === 'halting' && p.state === 'halted') {
      this.run('handling', () => this.handleHalt(p));
    } else if (this.phase !== 'done' && p.state === 'completed') {
      this.story.term.say(this.story.term.paint.red(`   ${this.wave.label} completed before its gate could halt it`));
      this.phase = 'done';
    }
  }

  private run(phase: Incident['phase'], fn: () => Promise<void>): void {
    this.phase = phase;
    this.task = fn().then(
      () => {
        this.task = null;
      },
      (err: unknown) => {
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.task = null;
      },
    );
  }

  private async burst(): Promise<void> {
    const { term, feed } = this.story;
    this.story.halt = {
      waveId: this.wave.id,
      label: this.wave.label,
      burstAt: Date.now(),
      haltedAt: null,
      fractionAtHalt: null,
      statusText: null,
      statusReason: null,
      resumedAt: null,
      rateRaisedTo: null,
    };
    term.say(term.paint.bold(`4. Midway through ${this.wave.label}: credential stuffing again?`));
    term.say(
      `   security team (key ${this.story.keys.signals.name}): failed POP/IMAP logins on general jump to ` +
        `${BURST.map(int).join(' → ')} per minute (gate threshold ${FAILED_LOGINS_THRESHOLD.general}); POST /api/v1/signals`,
    );
    await feed.burst('general', BURST);
    this.phase = 'halting';
  }

  private async handleHalt(p: WaveProgress): Promise<void> {
    const { term, feed, ops, keys } = this.story;
    const h = this.story.halt;
    if (!h) throw new Error('the wave halted before the burst was sent');
    h.haltedAt = Date.now();
    h.fractionAtHalt = p.doneFraction;
    h.statusText = p.statusText;
    h.statusReason = p.statusReason;
    term.say(
      `   the gate halted the wave ${duration(h.haltedAt - h.burstAt)} after the burst, at ${percent(p.doneFraction)} ` +
        `(reason ${p.statusReason ?? '?'}): no new mailstore call starts until ops resume it`,
    );

    term.say(`   meanwhile, support (key ${keys.support.name}):`);
    term.say(
      `   – a health practice calls: ${this.cast.heldLogin} has been held back since 9 May (leaked password, never ` +
        `changed); the password was changed at the desk after an identity check, and they cannot bill`,
    );
    await supportChange(
      this.story,
      'enable',
      this.cast.heldLogin,
      'password changed at the desk after an identity check; practice cannot collect claim replies',
      'SUP-20260511-0142',
      true,
    );
    term.say(
      `   – security flags ${this.cast.reblockLogin}, opened by wave 1: POP3 logins from the attackers' network; ` +
        `support rolls wave 1's change back on it (its exact prior state returns, sessions revoked)`,
    );
    await supportChange(
      this.story,
      'rollback',
      this.cast.reblockLogin,
      'POP3 logins from a flagged network after the reopening; closed again pending investigation',
      'SEC-2026-0311',
    );

    await sleep(Math.max(0, MIN_HALT_MS - (Date.now() - h.haltedAt)));
    const calm = await feed.calm('general');
    term.say(
      `   security team: the burst came from a botnet range now filtered at the edge; failed logins on general back ` +
        `to ${calm}/min`,
    );
    const resumed = await ops.post<CommandResult>(`/waves/${this.wave.id}/resume`);
    h.resumedAt = Date.now();
    term.say(`   ops: POST /waves/${this.wave.id.slice(0, 8)}…/resume → ${resumed.from} → ${resumed.state}`);
    await ops.patch(`/waves/${this.wave.id}`, { ratePerSecond: this.raisedRate });
    h.rateRaisedTo = this.raisedRate;
    term.say(
      `   ops: PATCH /waves/${this.wave.id.slice(0, 8)}… {ratePerSecond: ${this.raisedRate}} to make up for the ` +
        `${duration(h.resumedAt - h.haltedAt)} halt (pumps read it before every batch)`,
    );
    this.phase = 'done';
  }
}

import { ApiClient } from './api-client';
import type { Account, ImportReport, Operation, WavePreview, WaveProgress, WaveSpec } from './api.types';
import { DemoConfig } from './demo-config';
import { DemoKeys } from './demo-keys';
import type { NotificationInbox } from './notification-inbox';
import { PopulationSummary } from './population';
import { SecurityFeed } from './security-feed';
import { StoryClock } from './story-clock';
import { Terminal } from './terminal';

export const STORY_ZONE = 'Europe/Paris';

export interface PlannedWave {
  id: string;
  /** "wave 1 · health professionals" */
  label: string;
  /** The plan's start, in STORY_ZONE wall-clock time (2026-05-09T08:00). */
  storyStart: string;
  spec: WaveSpec;
  preview: WavePreview;
  /** The compressed real instant it was scheduled at. */
  realStart: Date | null;
  /** The last progress view seen. */
  last: WaveProgress | null;
}

export interface SupportAction {
  kind: 'enable' | 'disable' | 'rollback';
  login: string;
  reason: string;
  ticket: string;
  before: Account;
  operation: Operation;
  /** From the request to the operation's final state, as the agent saw it. */
  tookMs: number;
  after: Account;
}

interface HaltRecord {
  waveId: string;
  label: string;
  burstAt: number;
  haltedAt: number | null;
  /** Share of the wave done when it halted. */
  fractionAtHalt: number | null;
  statusText: string | null;
  statusReason: string | null;
  resumedAt: number | null;
  rateRaisedTo: number | null;
}

/** Everything the steps share: the people (one API client per key), the plan, and what happened. */
export interface Story {
  config: DemoConfig;
  term: Terminal;
  keys: DemoKeys;
  ops: ApiClient;
  /** A second ops key: approves what the first requests (two-person approval). */
  ops2: ApiClient;
  support: ApiClient;
  viewer: ApiClient;
  signals: ApiClient;
  feed: SecurityFeed;
  population: PopulationSummary | null;
  importReport: ImportReport | null;
  clock: StoryClock | null;
  waves: PlannedWave[];
  supportActions: SupportAction[];
  halt: HaltRecord | null;
  /** The local receiver ops subscribed (issue 20): what the incident channel received. */
  inbox: NotificationInbox | null;
  startedAt: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the security team pushes (POST /signals): one sample of one signal, optionally about one cohort. */
export interface SignalInput {
  /** e.g. `failed_logins_per_minute`; gates name it in `signal`. */
  name: string;
  value: number;
  /** The window the value was measured over. */
  windowSeconds: number;
  /** ISO 8601 instant with an offset (or a Date): when the window ended. */
  observedAt: string | Date;
  /** The cohort the value is about (e.g. `health`); absent or null: the whole population. */
  cohort?: string | null;
}

export interface RecordedSignal {
  id: number;
  name: string;
  value: number;
  windowSeconds: number;
  observedAt: Date;
  cohort: string | null;
  receivedAt: Date;
  source: string | null;
}

export const SIGNAL_LIMITS = {
  maxWindowSeconds: 86_400,
  /** Clocks differ: a sample may claim to be this far in the future, not more. */
  maxFutureSkewMs: 5 * 60_000,
  /** Older samples can never make a gate fresh again; refusing them catches a replay of stale data. */
  maxAgeMs: 7 * 86_400_000,
  maxAbsValue: 1e12,
} as const;

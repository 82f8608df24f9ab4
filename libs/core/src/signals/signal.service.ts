import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { FieldErrors, Gate, isToken, SignalSample } from '@app/domain';
import { ValidationError } from '../errors';
import { Sql, sqlOfDataSource } from '../db/sql';
import { SignalRepository, SignalRow } from './signal.repository';
import { RecordedSignal, SIGNAL_LIMITS, SignalInput } from './signal.types';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** A (signal, cohort) pair a gate reads; cohort null is the population-wide signal. */
export interface SignalKey {
  name: string;
  cohort: string | null;
}

export const signalKey = (k: SignalKey): string => `${k.name}\u0000${k.cohort ?? ''}`;

/**
 * Pushed security signals: validated inserts, and the latest-sample lookups the gates read
 * (signals_lookup_idx (name, cohort, observed_at DESC): one index probe per pair, never a scan).
 */
@Injectable()
export class SignalService {
  private readonly sql: Sql;

  constructor(
    dataSource: DataSource,
    private readonly repo = new SignalRepository(),
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  async record(input: SignalInput, source: string, now = new Date()): Promise<RecordedSignal> {
    const observedAt = validateSignal(input, now);
    const row = await this.repo.insert(this.sql, {
      name: input.name,
      value: input.value,
      windowSeconds: input.windowSeconds,
      observedAt,
      cohort: input.cohort ?? null,
      source,
    });
    return toRecorded(row);
  }

  /** The newest sample of one signal for one cohort (null cohort: population-wide), or null. */
  async latest(key: SignalKey): Promise<SignalSample | null> {
    return (await this.latestMany([key])).get(signalKey(key)) ?? null;
  }

  /** The newest sample of each pair, in one round trip (a LATERAL index probe per pair). */
  async latestMany(keys: readonly SignalKey[]): Promise<Map<string, SignalSample>> {
    const unique = [...new Map(keys.map((k) => [signalKey(k), k])).values()];
    const result = new Map<string, SignalSample>();
    if (!unique.length) return result;
    const rows = await this.repo.latest(this.sql, unique);
    for (const r of rows) {
      result.set(signalKey({ name: r.name, cohort: r.cohort }), {
        value: r.value,
        windowSeconds: r.window_seconds,
        observedAt: r.observed_at,
      });
    }
    return result;
  }

  /** Every pair the signal gates of a wave read: the gate's own cohort and its control cohort. */
  static keysOf(gates: readonly Gate[]): SignalKey[] {
    return gates.flatMap((g) =>
      g.metric === 'signal' && g.signal
        ? [
            { name: g.signal, cohort: g.cohort ?? null },
            ...(g.relativeTo ? [{ name: g.signal, cohort: g.relativeTo.cohort }] : []),
          ]
        : [],
    );
  }
}

/**
 * Field-level checks of one pushed sample; returns the observation instant to record. A feed whose clock runs ahead
 * (up to 5 minutes is accepted) is recorded as observed now: dated ahead, its sample would stay "fresh" past the
 * feed's silence (missing data read as data) and would hide, as the latest, every correctly dated sample until then.
 */
export function validateSignal(input: SignalInput, now: Date): Date {
  const f = new FieldErrors();
  if (typeof input.name !== 'string' || !NAME.test(input.name)) {
    f.add('name', 'must be 1–64 letters, digits, _ . : - (starting with a letter or digit)');
  }
  if (f.finite('value', input.value) && Math.abs(input.value) > SIGNAL_LIMITS.maxAbsValue) {
    f.add('value', `must be within ±${SIGNAL_LIMITS.maxAbsValue}`);
  }
  f.integerIn('windowSeconds', input.windowSeconds, 1, SIGNAL_LIMITS.maxWindowSeconds);
  if (input.cohort !== undefined && input.cohort !== null && !isToken(input.cohort, 64)) {
    f.add('cohort', 'must be a name of 1–64 visible characters');
  }
  const observedAt = parseInstant(input.observedAt);
  if (!observedAt) f.add('observedAt', 'must be an ISO 8601 instant with an offset, e.g. 2026-05-09T08:00:00Z');
  else if (observedAt.getTime() > now.getTime() + SIGNAL_LIMITS.maxFutureSkewMs) {
    f.add('observedAt', 'is in the future (more than 5 minutes ahead of the server clock)');
  } else if (observedAt.getTime() < now.getTime() - SIGNAL_LIMITS.maxAgeMs) {
    f.add('observedAt', 'is more than 7 days old');
  }
  if (f.errors.length) throw new ValidationError(f.errors);
  return observedAt!.getTime() > now.getTime() ? now : observedAt!;
}

function parseInstant(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value !== 'string' || !INSTANT.test(value) || !existingDateTime(value)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * The wall-clock date and time as written exist: Date rolls a day past the month's end over (2026-11-31 is read as
 * 2026-12-01) and reads 24:00 as the next day, so a sample would be stored for another instant than the feed sent.
 */
function existingDateTime(value: string): boolean {
  const [year, month, day] = value.slice(0, 10).split('-').map(Number);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day && Number(value.slice(11, 13)) <= 23;
}

function toRecorded(r: SignalRow): RecordedSignal {
  return {
    id: Number(r.id),
    name: r.name,
    value: r.value,
    windowSeconds: r.window_seconds,
    observedAt: r.observed_at,
    cohort: r.cohort,
    receivedAt: r.received_at,
    source: r.source,
  };
}

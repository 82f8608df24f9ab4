import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ProgressOverview, ProgressService, RateHistory, WaveProgress } from '@app/core';
import { hideAddresses } from '@app/domain';
import type { ApiSettings } from '@app/config';
import { API_SETTINGS } from '../infra.tokens';

export interface Tagged<T> {
  body: T;
  /** The body serialized once per read, not once per request. */
  json: string;
  /** Weak validator over what the view says (not when it was read): equal views, equal tags. */
  etag: string;
  /** The view without e-mail addresses, made once per read the first time a viewer asks (see readerView). */
  withoutAddresses?: Tagged<T>;
}

/**
 * The view as a reader may see it: readers who may not see e-mail addresses (viewers) get it with every address
 * replaced (an engine detail may list logins), serialized and tagged once per read; the same view when it holds
 * none.
 */
export function readerView<T>(tagged: Tagged<T>, showAddresses: boolean): Tagged<T> {
  if (showAddresses) return tagged;
  if (!tagged.withoutAddresses) {
    const hidden = hideAddresses(tagged.body);
    tagged.withoutAddresses = hidden === tagged.body ? tagged : tag(hidden);
  }
  return tagged.withoutAddresses;
}

interface Entry {
  readAt: number;
  value?: Tagged<unknown>;
  /** The read in flight, shared by every request that needs it. */
  loading?: Promise<Tagged<unknown>>;
}

const MAX_ENTRIES = 1000;
/** Past this age a view is not served while a new read is in flight: the caller waits for the new one. */
const MAX_STALE_MS = 10_000;
/**
 * A history read scans the wave's completed batches (a wave of a million accounts in batches of 20: 50,000 index
 * entries, ~20 ms once vacuumed, ~300 ms while the batch rows themselves must be read). One read per wave per API
 * process per a quarter of its sample width (at least 2 s), whatever the number of pages that open it: a young wave's
 * 5 s bars move every 2 s, a 3-hour wave's 2-minute bars every 30 s.
 */
const HISTORY_MIN_TTL_MS = 2000;
const historyTtl = (h: RateHistory | undefined) => Math.max(HISTORY_MIN_TTL_MS, ((h?.bucketSeconds ?? 0) * 1000) / 4);

/**
 * Shares one progress read among every poller of the same view. A view younger than API_PROGRESS_CACHE_MS is
 * served as is; an older one is still served (up to 10 s old) while one background read replaces it, so a poll
 * never waits on the database, even when the database is busy with a wave. Only the first read of a view waits.
 */
@Injectable()
export class ProgressCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly progress: ProgressService,
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
  ) {}

  wave(id: string): Promise<Tagged<WaveProgress>> {
    return this.get(`wave:${id}`, () => this.progress.wave(id));
  }

  overview(): Promise<Tagged<ProgressOverview>> {
    return this.get('overview', () => this.progress.overview());
  }

  history(id: string): Promise<Tagged<RateHistory>> {
    const off = this.settings.API_PROGRESS_CACHE_MS === 0;
    return this.get(
      `history:${id}`,
      () => this.progress.history(id),
      (h) => (off ? 0 : historyTtl(h)),
    );
  }

  /** `ttlOf`: how long a view stays fresh, from the view itself (default: API_PROGRESS_CACHE_MS for every view). */
  private get<T>(key: string, load: () => Promise<T>, ttlOf?: (value: T | undefined) => number): Promise<Tagged<T>> {
    if ((ttlOf ? ttlOf(undefined) : this.settings.API_PROGRESS_CACHE_MS) === 0) return load().then(tag);
    const now = Date.now();
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= MAX_ENTRIES) this.evict(now);
      entry = { readAt: 0 };
      this.entries.set(key, entry);
    }
    const ttl = ttlOf ? ttlOf(entry.value?.body as T | undefined) : this.settings.API_PROGRESS_CACHE_MS;
    const age = now - entry.readAt;
    if (entry.value && age < ttl) return Promise.resolve(entry.value as Tagged<T>);
    const loading = (entry.loading ??= this.refresh(key, entry, load));
    if (entry.value && age < MAX_STALE_MS) return Promise.resolve(entry.value as Tagged<T>);
    return loading as Promise<Tagged<T>>;
  }

  private refresh<T>(key: string, entry: Entry, load: () => Promise<T>): Promise<Tagged<unknown>> {
    const loading = load().then(tag);
    loading.then(
      (value) => {
        entry.value = value;
        entry.readAt = Date.now();
        entry.loading = undefined;
      },
      // A failed read (unknown wave, database down) is not kept: the next request asks again.
      () => this.entries.delete(key),
    );
    return loading;
  }

  private evict(now: number): void {
    for (const [key, entry] of this.entries) if (now - entry.readAt > MAX_STALE_MS) this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
  }
}

function tag<T>(body: T): Tagged<T> {
  return { body, json: JSON.stringify(body), etag: etagOf(body) };
}

/** Hash of the view without its read time and countdowns, which change every second without news. */
export function etagOf(body: unknown): string {
  const json = JSON.stringify(body, (key, value: unknown) =>
    key === 'asOf' || key === 'bakeSecondsLeft' || key === 'etaAt' ? undefined : value,
  );
  return `W/"${createHash('sha1').update(json).digest('base64url').slice(0, 22)}"`;
}

/** If-None-Match: a list of tags or `*`; weak comparison (RFC 9110 §13.1.2). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
}

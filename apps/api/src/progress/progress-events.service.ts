import { API_CACHE_CONTROL } from '../common/security-headers';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { WaveProgress } from '@app/core';
import type { ApiSettings } from '@app/config';
import { ApiError } from '../common/api-exceptions';
import { API_LOGGER, API_SETTINGS } from '../infra.tokens';
import { bearer } from '../auth/api-key.guard';
import { ApiKeyVerifier } from '../auth/api-key.verifier';
import { seesAddresses } from '../auth/principal';
import { ProgressCache, readerView, Tagged } from './progress-cache.service';

const HEARTBEAT_MS = 15_000;
/** Each stream holds a socket and two timers: a bound keeps a buggy dashboard from exhausting the process. */
const MAX_STREAMS = 500;
/** A slot a dead client holds is freed once a heartbeat fails to go out: about this long. */
const STREAM_RETRY_AFTER_S = 15;

/**
 * Server-Sent Events for one wave: a `progress` event whenever the view changes (id = its ETag, so a client
 * reconnecting with Last-Event-ID gets nothing it already has), and a `state` event when the wave changes state.
 * Reads go through the shared progress cache; a comment line every 15 s keeps proxies from closing the stream. The
 * stream's key is verified again at each tick (from memory while it is fresh: ApiKeyVerifier): a stream outlives no
 * revocation by more than API_KEY_CACHE_MS and a tick, as a request would not.
 */
@Injectable()
export class ProgressEventsService implements BeforeApplicationShutdown {
  private readonly open = new Set<() => void>();
  /** Streams reserved or open per API key, so one key cannot take every stream of the process. */
  private readonly perKey = new Map<string, number>();
  /** Streams reserved (waiting for their first read) or open. */
  private reserved = 0;

  constructor(
    private readonly cache: ProgressCache,
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
    @Inject(API_LOGGER) private readonly log: Logger,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  async stream(id: string, req: Request, res: Response): Promise<void> {
    const release = this.reserve(req.principal?.keyId ?? 'none', res);
    let first: Tagged<WaveProgress>;
    try {
      // Unknown wave: a plain 404 problem, before any event-stream header is sent.
      first = await this.cache.wave(id);
    } catch (err) {
      release();
      throw err;
    }
    // Viewers get the views without e-mail addresses, as from GET /waves/{id}/progress.
    const showAddresses = seesAddresses(req.principal);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    // As every API answer (security-headers.ts), never stored; no-transform keeps proxies from buffering the stream.
    res.setHeader('Cache-Control', `${API_CACHE_CONTROL}, no-transform`);
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n\n');

    const lastEventId = req.headers['last-event-id'];
    let lastTag = typeof lastEventId === 'string' ? lastEventId : '';
    let lastState: string | null = null;
    const send = (tagged: Tagged<WaveProgress>) => {
      const { body, etag } = readerView(tagged, showAddresses);
      if (lastState !== null && body.state !== lastState) {
        write(res, 'state', { waveId: body.waveId, from: lastState, to: body.state, reason: body.statusReason });
      }
      lastState = body.state;
      if (etag === lastTag) return;
      lastTag = etag;
      write(res, 'progress', body, etag);
    };
    send(first);

    const secret = bearer(req);
    let busy = false;
    const tick = setInterval(() => {
      if (busy) return;
      busy = true;
      (secret === undefined ? Promise.resolve(null) : this.verifier.verify(secret))
        .then(async (principal) => {
          // None: revoked since the stream opened (a request without a key never gets past the guard).
          if (principal) send(await this.cache.wave(id));
          else close();
        })
        .catch((err: unknown) => this.log.warn({ err, waveId: id }, 'progress event read failed'))
        .finally(() => (busy = false));
    }, this.settings.API_SSE_INTERVAL_MS);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    const close = () => {
      if (!this.open.delete(close)) return;
      clearInterval(tick);
      clearInterval(heartbeat);
      release();
      if (!res.writableEnded) res.end();
    };
    this.open.add(close);
    req.on('close', close);
    res.on('close', close);
    if (res.destroyed) close(); // the client left during the first read: its slot must not stay taken
  }

  /**
   * Holds a stream slot for the key from before the first read (so concurrent requests cannot all pass the check),
   * or refuses: 429 when the key holds API_SSE_MAX_STREAMS_PER_KEY already, 503 when the process is full.
   */
  private reserve(keyId: string, res: Response): () => void {
    const limit = this.settings.API_SSE_MAX_STREAMS_PER_KEY;
    const held = this.perKey.get(keyId) ?? 0;
    if (held >= limit) {
      res.setHeader('Retry-After', String(STREAM_RETRY_AFTER_S));
      throw new ApiError(
        429,
        'too_many_streams',
        `this API key already holds ${limit} event streams on this process: close one, or retry after the Retry-After delay`,
        { limit, retryAfterSeconds: STREAM_RETRY_AFTER_S },
      );
    }
    if (this.reserved >= MAX_STREAMS) {
      res.setHeader('Retry-After', String(STREAM_RETRY_AFTER_S));
      throw new ApiError(503, 'too_many_streams', `this process already serves ${MAX_STREAMS} event streams`);
    }
    this.perKey.set(keyId, held + 1);
    this.reserved++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved--;
      const left = (this.perKey.get(keyId) ?? 1) - 1;
      if (left > 0) this.perKey.set(keyId, left);
      else this.perKey.delete(keyId);
    };
  }

  /** Open streams would keep the HTTP server from closing: end them first. */
  beforeApplicationShutdown(): void {
    for (const close of [...this.open]) close();
  }
}

function write(res: Response, event: string, data: unknown, id?: string): void {
  res.write(`event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
}

import type { Request, Response } from 'express';
import { matchesIfNoneMatch, Tagged } from './progress-cache.service';

/**
 * ETag for views polled every few seconds: an unchanged view is a 304 without a body. Cache-Control stays the API's
 * `no-store` (common/security-headers.ts): the pollers (status page, demo, dashboards) keep the last view and its
 * ETag themselves and send If-None-Match, which needs no HTTP cache; a browser or proxy cache would only keep a
 * key-scoped view on disk. The body goes out as the JSON the cache serialized once.
 */
export function conditionalGet<T>(req: Request, res: Response, tagged: Tagged<T>): string | undefined {
  res.setHeader('ETag', tagged.etag);
  res.setHeader('Vary', 'Authorization');
  if (matchesIfNoneMatch(req.headers['if-none-match'], tagged.etag)) {
    res.status(304);
    return undefined;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  return tagged.json;
}

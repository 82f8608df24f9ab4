import type { Request, Response } from 'express';
import { matchesIfNoneMatch, Tagged } from './progress-cache.service';

/**
 * ETag + Cache-Control for views polled every few seconds: browsers and proxies may reuse an answer for 2 s,
 * then revalidate; an unchanged view is a 304 without a body. Private: the answer depends on the API key.
 * The body goes out as the JSON the cache serialized once.
 */
export function conditionalGet<T>(req: Request, res: Response, tagged: Tagged<T>): string | undefined {
  res.setHeader('ETag', tagged.etag);
  res.setHeader('Cache-Control', 'private, max-age=2, must-revalidate');
  res.setHeader('Vary', 'Authorization');
  if (matchesIfNoneMatch(req.headers['if-none-match'], tagged.etag)) {
    res.status(304);
    return undefined;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  return tagged.json;
}

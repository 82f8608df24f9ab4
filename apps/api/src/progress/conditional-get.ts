import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { matchesIfNoneMatch, Tagged } from './progress-cache.service';

/** Answers a GET with a tagged view: its JSON, or a 304 when the client already holds it. */
export type ConditionalReply = <T>(tagged: Tagged<T>) => string | undefined;

/**
 * ETag for views polled every few seconds: an unchanged view is a 304 without a body. Cache-Control stays the API's
 * `no-store` (common/security-headers.ts): the pollers (status page, demo, dashboards) keep the last view and its
 * ETag themselves and send If-None-Match, which needs no HTTP cache; a browser or proxy cache would only keep a
 * key-scoped view on disk. The body goes out as the JSON the cache serialized once.
 */
function conditionalGet<T>(req: Request, res: Response, tagged: Tagged<T>): string | undefined {
  res.setHeader('ETag', tagged.etag);
  res.setHeader('Vary', 'Authorization');
  if (matchesIfNoneMatch(req.headers['if-none-match'], tagged.etag)) {
    res.status(304);
    return undefined;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  return tagged.json;
}

/**
 * A handler parameter that answers with `conditionalGet` for this request: the handler returns `reply(view)`, and
 * Nest sends what it returns (the status is set before the handler runs, so the 304 stands).
 */
export const ConditionalGet = createParamDecorator((_: unknown, ctx: ExecutionContext): ConditionalReply => {
  const http = ctx.switchToHttp();
  const req = http.getRequest<Request>();
  const res = http.getResponse<Response>();
  return (tagged) => conditionalGet(req, res, tagged);
});

import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';

/** RFC 9457 problem details, with the stable `code` clients switch on and the field at fault. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  field?: string;
  errors?: { field: string; message: string }[];
  requestId?: string;
  [extension: string]: unknown;
}

const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Codes for answers that carry no domain code of their own (routing, auth, parsing, limits). */
export const HTTP_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'unavailable',
};

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return {
    type: `urn:reopen:problem:${code}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}

/** Writes a problem on an Express response (used by the exception filter and the body-parser error handler). */
export function sendProblem(res: Response, p: Problem): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(p.status).setHeader('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  if (p.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="reopen"');
  res.send(JSON.stringify(p));
}

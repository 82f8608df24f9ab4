import { HttpException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { QueryFailedError } from 'typeorm';
import { DomainError, DomainErrorKind, ImportFileError } from '@app/core';
import { ApiError } from './api-exceptions';
import { HTTP_CODES, Problem, problem } from './problem';

interface BodyParserError {
  type: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  limit?: number;
}

const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.parse.failed': [400, 'invalid_json', 'the body is not valid JSON'],
  'entity.too.large': [413, 'payload_too_large', 'the body is larger than this route accepts'],
  'entity.verify.failed': [400, 'invalid_body', 'the body could not be verified'],
  'entity.not.utf8': [400, 'invalid_body', 'the body is not valid UTF-8'],
  'entity.decode.failed': [400, 'invalid_body', 'the body does not decode as its Content-Encoding says'],
  'encoding.unsupported': [415, 'unsupported_media_type', 'the body encoding is not supported'],
  'charset.unsupported': [415, 'unsupported_media_type', 'the body charset is not supported (use utf-8)'],
  'request.aborted': [400, 'request_aborted', 'the client aborted the request'],
  'request.size.invalid': [400, 'invalid_body', 'the body length does not match Content-Length'],
  'stream.encoding.set': [500, 'internal_error', 'the request stream was read twice'],
};

export function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { type?: unknown }).type === 'string' &&
    typeof ((err as BodyParserError).status ?? (err as BodyParserError).statusCode) === 'number'
  );
}

/**
 * The one place a domain error's kind becomes an HTTP status. No default: a new kind fails to compile here until it
 * has its status.
 */
function statusOf(kind: DomainErrorKind): number {
  switch (kind) {
    case 'invalid':
      return 400;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'too_large':
      return 413;
    case 'forbidden':
      return 403;
  }
}

/** A refusal's problem: its code, message and extras, with the first bad field named when only the list has it. */
function refusal(status: number, err: DomainError | ApiError): Problem {
  const extra = { ...err.extra };
  const errors = extra.errors as { field: string }[] | undefined;
  if (extra.field === undefined && errors?.length) extra.field = errors[0].field;
  return problem(status, err.code, err.message, extra);
}

/**
 * Every error becomes a problem with a stable code. Anything unknown is a 500 `internal_error` whose detail says
 * nothing about the cause (no stack, no SQL): the log has it, under the same request id.
 */
export function toProblem(err: unknown): Problem {
  if (err instanceof DomainError) return refusal(statusOf(err.kind), err);
  if (err instanceof ApiError) return refusal(err.status, err);
  if (err instanceof ImportFileError) {
    const status = err.code === 'too_many_lines' ? 413 : 400;
    return problem(status, err.code, err.message, err.code === 'too_many_lines' ? {} : { field: 'header' });
  }
  if (err instanceof ThrottlerException) {
    return problem(429, 'rate_limited', 'too many requests for this API key; retry after the Retry-After delay');
  }
  if (err instanceof HttpException) return fromHttpException(err);
  if (isBodyParserError(err)) {
    const [status, code, detail] = BODY_ERRORS[err.type] ?? [
      err.status ?? err.statusCode ?? 400,
      HTTP_CODES[err.status ?? 400] ?? 'bad_request',
      'the request body was refused',
    ];
    if (err.type === 'entity.too.large') return problem(status, code, detail, { limitBytes: err.limit });
    // The body as a whole is at fault: named like the pipe names a body that is not a JSON object.
    return problem(status, code, detail, status === 400 ? { field: 'body' } : {});
  }
  if (err instanceof QueryFailedError) {
    const code = (err.driverError as { code?: string } | undefined)?.code ?? '';
    // Class 22 (data exception): a value PostgreSQL cannot take. Validation should have caught it first.
    if (code.startsWith('22')) return problem(400, 'invalid_input', 'a value in the request is out of range');
    if (code === '23505') return problem(409, 'conflict', 'the change conflicts with existing data');
  }
  return problem(500, 'internal_error', 'an unexpected error occurred; quote the request id when reporting it');
}

function fromHttpException(err: HttpException): Problem {
  const status = err.getStatus();
  const body = err.getResponse();
  const code = HTTP_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
  if (typeof body === 'object' && body !== null && 'details' in body && 'status' in body) {
    // Terminus: the readiness result, kept so an operator sees which dependency is down.
    return problem(status, 'not_ready', 'a dependency is down', { checks: (body as { details: unknown }).details });
  }
  const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
  let detail = typeof message === 'string' ? message : err.message;
  // Without the query string: answers are logged by proxies, and queries carry logins.
  if (status === 404 && /^Cannot [A-Z]+ /.test(detail)) detail = `no route ${detail.slice(7).replace(/\?.*$/s, '')}`;
  if (status >= 500) detail = 'an unexpected error occurred; quote the request id when reporting it';
  return problem(status, code, detail);
}

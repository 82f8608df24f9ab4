import { STATUS_CODES } from 'node:http';
import { NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { QueryFailedError } from 'typeorm';
import {
  ConflictError,
  DomainError,
  DomainErrorKind,
  IllegalTransitionError,
  ImportFileError,
  LineTooLongError,
  NotFoundError,
  ValidationError,
} from '@app/core';
import { ApiError } from './api-exceptions';
import { toProblem } from './problem-mapping';

// A Record, not a list: a kind added to DomainErrorKind fails to compile here until the test says its status.
const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  forbidden: 403,
};

describe('toProblem', () => {
  it.each(Object.entries(STATUS_BY_KIND))('answers a domain error of kind %s with %i', (kind, status) => {
    const err = new DomainError('some_code', 'what went wrong', kind as DomainErrorKind, { field: 'name', id: 7 });
    expect(toProblem(err)).toEqual({
      type: 'urn:reopen:problem:some_code',
      title: STATUS_CODES[status],
      status,
      detail: 'what went wrong',
      code: 'some_code',
      field: 'name',
      id: 7,
    });
  });

  it('keeps a domain error’s code, message and extras; names the first bad field', () => {
    expect(
      toProblem(new ValidationError([{ field: 'gates[0].threshold', message: 'gates[0].threshold must be ≤ 1' }])),
    ).toEqual({
      type: 'urn:reopen:problem:validation_failed',
      title: 'Bad Request',
      status: 400,
      detail: 'gates[0].threshold must be ≤ 1',
      code: 'validation_failed',
      field: 'gates[0].threshold',
      errors: [{ field: 'gates[0].threshold', message: 'gates[0].threshold must be ≤ 1' }],
    });
    expect(toProblem(new IllegalTransitionError('draft', 'pause', ['start', 'cancel'], 'no'))).toMatchObject({
      status: 409,
      code: 'illegal_transition',
      currentState: 'draft',
      command: 'pause',
      allowed: ['start', 'cancel'],
    });
    expect(toProblem(new NotFoundError('wave', 'w1'))).toMatchObject({
      status: 404,
      code: 'wave_not_found',
      wave: 'w1',
    });
    expect(toProblem(new ConflictError('nothing_to_roll_back', 'no', { login: 'a@b.c' }))).toMatchObject({
      status: 409,
      code: 'nothing_to_roll_back',
      login: 'a@b.c',
    });
    expect(toProblem(new LineTooLongError(2, 4096, 'cohorts'))).toMatchObject({
      status: 413,
      code: 'line_too_long',
      field: 'cohorts',
      line: 2,
      limitChars: 4096,
    });
  });

  it('answers an API error with its own status, and names the first bad field like a domain error', () => {
    expect(toProblem(new ApiError(415, 'unsupported_media_type', 'csv please'))).toMatchObject({
      status: 415,
      title: 'Unsupported Media Type',
    });
    const rejected = new ApiError(422, 'import_rejected', '1 of 2 lines are invalid', {
      errors: [{ line: 2, field: 'login', message: 'line 2: bad login' }],
    });
    expect(toProblem(rejected)).toMatchObject({ status: 422, code: 'import_rejected', field: 'login' });
  });

  it('maps import file errors, throttling and HTTP exceptions to stable codes', () => {
    expect(toProblem(new ImportFileError('wrong header', 'wrong_header'))).toMatchObject({
      status: 400,
      code: 'wrong_header',
      field: 'header',
    });
    expect(toProblem(new ImportFileError('too many', 'too_many_lines'))).toMatchObject({
      status: 413,
      code: 'too_many_lines',
    });
    expect(toProblem(new ThrottlerException())).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(toProblem(new NotFoundException('Cannot GET /api/v1/nope?login=a%40b.c'))).toMatchObject({
      status: 404,
      code: 'not_found',
      detail: 'no route GET /api/v1/nope',
    });
    const terminus = new ServiceUnavailableException({ status: 'error', details: { redis: { status: 'down' } } });
    expect(toProblem(terminus)).toMatchObject({
      status: 503,
      code: 'not_ready',
      checks: { redis: { status: 'down' } },
    });
  });

  it('maps body-parser errors', () => {
    const err = (type: string, status: number) => Object.assign(new Error('x'), { type, status });
    expect(toProblem(err('entity.parse.failed', 400))).toMatchObject({
      status: 400,
      code: 'invalid_json',
      field: 'body',
    });
    expect(toProblem(err('entity.not.utf8', 403))).toMatchObject({ status: 400, code: 'invalid_body', field: 'body' });
    expect(toProblem(Object.assign(err('entity.too.large', 413), { limit: 65536 }))).toMatchObject({
      status: 413,
      code: 'payload_too_large',
      limitBytes: 65536,
    });
    expect(toProblem(err('charset.unsupported', 415))).toMatchObject({ status: 415, code: 'unsupported_media_type' });
  });

  it('answers a value PostgreSQL refuses with 400, and anything unknown with a 500 that says nothing inside', () => {
    const pg = new QueryFailedError(
      'SELECT',
      [],
      Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' }),
    );
    expect(toProblem(pg)).toMatchObject({ status: 400, code: 'invalid_input' });
    const secret = toProblem(new Error('password=hunter2 at /srv/app.js:12'));
    expect(secret).toMatchObject({ status: 500, code: 'internal_error' });
    expect(JSON.stringify(secret)).not.toMatch(/hunter2|app\.js/);
  });
});

import { applyDecorators, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { Request } from 'express';
import { ValidationError } from '@app/core';

/** Printable ASCII, no space: a UUID, a ULID, a client's own request id. */
const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's `Idempotency-Key` header, or undefined when it has none; a 400 naming the header when it is not 1–255
 * printable ASCII characters. OperationService.request says what the same key sent again does.
 */
export const IdempotencyKey = createParamDecorator((_data: unknown, ctx: ExecutionContext): string | undefined => {
  const value = ctx.switchToHttp().getRequest<Request>().headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY.test(value)) {
    throw new ValidationError([
      { field: 'Idempotency-Key', message: 'Idempotency-Key must be 1–255 printable ASCII characters, sent once' },
    ]);
  }
  return value;
});

/** The header in the OpenAPI document. */
export const ApiIdempotencyKey = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'the client’s own key for this request (1–255 printable ASCII): the same caller sending the same request ' +
        'under it again gets the operation the first one made (no second change, no second audit row); sent with ' +
        'another request: 409 idempotency_key_reused',
    }),
  );

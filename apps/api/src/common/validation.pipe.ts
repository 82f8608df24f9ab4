import { ArgumentMetadata, Injectable, ValidationError as ClassValidationError, ValidationPipe } from '@nestjs/common';
import * as classTransformer from 'class-transformer';
import * as classValidator from 'class-validator';
import { ValidationError } from '@app/core';
import { inheritedNameField, inspectInput } from './input-guard';

type FieldError = { field: string; message: string };

/** `gates.0.threshold` → `gates[0].threshold`: the names the domain validators use too. */
function path(parent: string, property: string): string {
  if (/^\d+$/.test(property)) return `${parent}[${property}]`;
  return parent ? `${parent}.${property}` : property;
}

/** Flattens class-validator's tree into one error per field, with messages that read on their own. */
function flattenValidationErrors(errors: ClassValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = path(parent, e.property);
    const own = Object.entries(e.constraints ?? {}).map(([constraint, message]) => ({
      field,
      message:
        constraint === 'whitelistValidation' ? `${field} is not a known field` : message.replace(e.property, field),
    }));
    return [...own.slice(0, 1), ...flattenValidationErrors(e.children ?? [], field)];
  });
}

/**
 * ValidationPipe with whitelist + forbidNonWhitelisted, no implicit conversion (a JSON "5" is not a number;
 * query DTOs convert explicitly), and errors as the domain's ValidationError, so the answer is the same
 * problem+json whether the DTO or the service refused the value. Every body, query and path parameter is first held
 * to the input bounds (depth, size, storable text: input-guard.ts), whatever its type.
 */
@Injectable()
export class ApiValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: false },
      exceptionFactory: (errors: ClassValidationError[]) => new ValidationError(flattenValidationErrors(errors)),
      // Given, not loaded by Nest with a dynamic import() (which Jest's CommonJS runtime cannot run).
      validatorPackage: classValidator,
      transformerPackage: classTransformer,
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') {
      // Before class-transformer (it recurses per level) and before any value can reach PostgreSQL.
      // @Param('login'), @Query('x'), @Body('y') get one value, named; @Query() and @Body() an object of fields.
      const fault = inspectInput(value, metadata.data ?? (metadata.type === 'param' ? 'path' : ''));
      if (fault) throw new ValidationError([fault]);
    }
    const isDto = typeof metadata.metatype === 'function' && !isPrimitiveType(metadata.metatype);
    if (isDto && (metadata.type === 'body' || metadata.type === 'query')) {
      // The whitelist cannot see these names (inheritedNameField says why): refused as any unknown field.
      const fault = inheritedNameField(value, metadata.data ?? '');
      if (fault) throw new ValidationError([fault]);
    }
    if (metadata.type === 'body' && isDto && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new ValidationError([
        { field: 'body', message: 'body must be a JSON object sent with Content-Type: application/json' },
      ]);
    }
    return super.transform(value, metadata);
  }
}

function isPrimitiveType(t: unknown): boolean {
  return [String, Boolean, Number, Array, Object].includes(t as never);
}

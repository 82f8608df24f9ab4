import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';

class FieldErrorDto {
  @ApiProperty({ example: 'gates[0].threshold' })
  field!: string;

  @ApiProperty({ example: 'gates[0].threshold must be between 0 and 1 (a fraction of calls)' })
  message!: string;
}

/** Every error answer (application/problem+json). */
class ProblemDto {
  @ApiProperty({ example: 'urn:reopen:problem:validation_failed' })
  type!: string;

  @ApiProperty({ example: 'Bad Request' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiProperty({ example: 'ratePerSecond must be > 0' })
  detail!: string;

  @ApiProperty({
    description:
      'Stable machine code: validation_failed, invalid_json, payload_too_large, unauthorized, forbidden, ' +
      'not_found, wave_not_found, account_not_found, operation_not_found, illegal_transition, rate_limited, …',
    example: 'validation_failed',
  })
  code!: string;

  @ApiPropertyOptional({ description: 'The (first) field at fault', example: 'ratePerSecond' })
  field?: string;

  @ApiPropertyOptional({ type: [FieldErrorDto] })
  errors?: FieldErrorDto[];

  @ApiPropertyOptional({ description: 'illegal_transition: the wave state when the command was refused' })
  currentState?: string;

  @ApiPropertyOptional({ description: 'illegal_transition: commands the current state accepts', type: [String] })
  allowed?: string[];

  @ApiPropertyOptional({ description: 'The X-Request-Id of the request, also in the logs' })
  requestId?: string;
}

/** An error answer in the OpenAPI document: application/problem+json with the ProblemDto shape. */
export function ApiProblem(status: number, description: string): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ApiResponse({
      status,
      description,
      content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } },
    }),
  );
}

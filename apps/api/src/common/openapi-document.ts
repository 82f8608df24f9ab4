import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { addValidatorBounds } from './openapi-bounds';

/** The OpenAPI document, generated from the controllers and DTOs (checked in as docs/openapi.json). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('reopen-access API')
    .setDescription(
      'Progressive, gated, reversible reopening of POP/IMAP access. Every route needs `Authorization: Bearer <api ' +
        'key>` except /health/live and /health/ready; each operation lists its roles in `x-roles`. Errors are ' +
        'application/problem+json with a stable `code` and the field at fault.',
    )
    .setVersion('1')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'an API key (npm run cli -- create-api-key)' },
      'api-key',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  addValidatorBounds(app, document);
  return document;
}

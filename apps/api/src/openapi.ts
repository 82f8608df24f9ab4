import type { OpenAPIObject } from '@nestjs/swagger';
import { loadApiSettings, loadConfig } from '@app/config';
import { createLogger } from '@app/logging';
import { createApiApp } from './app.factory';
import { buildOpenApiDocument } from './common/openapi-document';

export { buildOpenApiDocument };

/**
 * The OpenAPI document as checked in at docs/openapi.json, built without any connection (the app is created
 * offline: inert database, Redis and queue). openapi.spec.ts fails when the two drift;
 * `UPDATE_OPENAPI=1 npx jest apps/api/src/openapi` rewrites the file.
 */
export async function generateOpenApiDocument(): Promise<OpenAPIObject> {
  const app = await createApiApp({
    config: loadConfig({}),
    settings: loadApiSettings({}),
    logger: createLogger('reopen-api', 'silent'),
    offline: true,
  });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}

/** `node dist/apps/api/src/openapi.js`: prints the document (the OpenAPI check runs it from the build). */
if (require.main === module) {
  generateOpenApiDocument().then(
    (doc) => process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

import 'reflect-metadata';
import { isUtf8 } from 'node:buffer';
import { NotFoundException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { json, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { ApiSettings, EnvironmentDto, loadApiSettings, trustProxySetting } from '@app/config';
import { LoginIngestService } from '@app/core';
import { createLogger, PinoNestLogger } from '@app/logging';
import { AppModule } from './app.module';
import { ApiKeyVerifier } from './auth/api-key.verifier';
import { KeyAuthenticator } from './auth/key-authenticator';
import { keyBeforeBody } from './auth/key-before-body';
import { requestMiddlewares } from './common/http-logger';
import { requestTracing } from './common/request-tracing';
import { answerParserErrors, bodyParserErrorHandler, ProblemFilter, respondWithProblem } from './common/problem.filter';
import { ApiValidationPipe } from './common/validation.pipe';
import { buildOpenApiDocument } from './common/openapi-document';
import { securityHeaders } from './common/security-headers';
import { boundSlowClients } from './common/slow-clients';
import { urlEncodingGuard } from './common/url-guard';
import { installLoginEventsRawRoute } from './login-events/login-event.raw-route';
import { MetricsService } from './metrics/metrics.service';
import { requestMetrics } from './metrics/request-metrics';
import { SignalStreamMetrics } from './metrics/signal-metrics';
import { statusPage } from './status-page/status-page';

const API_PREFIX = 'api/v1';

export interface CreateApiOptions {
  config: EnvironmentDto;
  settings?: ApiSettings;
  logger?: Logger;
  /** No connections at all: for building the OpenAPI document. */
  offline?: boolean;
}

/** Builds the configured API (used by main.ts, the e2e tests, the benchmark and the OpenAPI check). */
export async function createApiApp(options: CreateApiOptions): Promise<NestExpressApplication> {
  const settings = options.settings ?? loadApiSettings();
  const logger = options.logger ?? createLogger('reopen-api', options.config.LOG_LEVEL);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.register({ config: options.config, settings, logger, offline: options.offline }),
    // Explicit adapter: Nest's fallback loads it with a dynamic import(), which Jest's CommonJS runtime cannot do.
    new ExpressAdapter(),
    { bodyParser: false, logger: new PinoNestLogger(logger), abortOnError: false },
  );
  app.disable('x-powered-by');
  // ETags are ours to make (progress views); Express's body hashes on every answer would only cost CPU.
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('trust proxy', trustProxySetting(settings)); // req.ip: the per-address budget before authentication
  app.setGlobalPrefix(API_PREFIX);
  const docsPaths = ['docs', `${API_PREFIX}/docs`];
  // First, so that every answer carries them, refusals and 404s included.
  const headers = securityHeaders(docsPaths.map((p) => `/${p}`));
  app.use(headers);
  app.use(requestMetrics(app.get(MetricsService).registry));
  for (const middleware of [...requestMiddlewares(logger), ...requestTracing()]) app.use(middleware);
  // The status page at `/`, outside the API prefix and its key checks (GET and HEAD; the rest falls through).
  app.use(statusPage());
  // The document is generated from the controllers: its paths are the routes whose parameters the guard names.
  const document = buildOpenApiDocument(app);
  const templates = Object.keys(document.paths);
  app.use(urlEncodingGuard(templates));
  // The key before the body: an anonymous upload is refused unread (auth/key-before-body.ts).
  const refuse = (err: unknown, req: Request, res: Response) => respondWithProblem(err, req, res, logger);
  app.use(keyBeforeBody(`/${API_PREFIX}`, templates, app.get(KeyAuthenticator), refuse));
  // Body limits: POST /waves may carry an explicit list of logins; everything else is small. The CSV import is
  // not parsed here (text/csv): it streams, with its own size and line limits.
  const kb = (n: number) => `${n}kb`;
  app.use(
    `/${API_PREFIX}/waves`,
    decodeErrorsTyped(json({ limit: kb(settings.API_WAVE_JSON_LIMIT_KB), verify: utf8Only })),
  );
  app.use(decodeErrorsTyped(json({ limit: kb(settings.API_JSON_LIMIT_KB), verify: utf8Only })));
  // The mail server's login events (5,000 POSTs/s): their plain case (a key in use, a JSON body) is answered on node's
  // request event, ahead of Express (login-event.raw-route.ts says why and how; bench:events' apiCpuMsPerEvent is the
  // figure). The rest (a key's first request, refusals of a key, unusual requests) goes through Nest as any route.
  installLoginEventsRawRoute(app.getHttpServer(), {
    verifier: app.get(ApiKeyVerifier),
    logins: app.get(LoginIngestService),
    metrics: app.get(SignalStreamMetrics),
    registry: app.get(MetricsService).registry,
    securityHeaders: headers,
    logger,
    limitBytes: settings.API_JSON_LIMIT_KB * 1024,
  });
  answerParserErrors(app.getHttpServer());
  boundSlowClients(app.getHttpServer(), settings);
  app.use(bodyParserErrorHandler(logger));
  app.useGlobalFilters(new ProblemFilter(logger));
  app.useGlobalPipes(new ApiValidationPipe());
  for (const path of docsPaths) {
    SwaggerModule.setup(path, app, document, { jsonDocumentUrl: `${path}/openapi.json`, useGlobalPrefix: false });
  }
  // Outside the API prefix only the status page and the docs are served (both registered above): any other path is a
  // 404 problem like the API's, not Express's HTML error page.
  const api = `/${API_PREFIX}`;
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const inApi = req.path === api || req.path.startsWith(`${api}/`);
    next(inApi ? undefined : new NotFoundException(`Cannot ${req.method} ${req.path}`));
  });
  return app;
}

/**
 * body-parser inflates a gzip, deflate or br body before parsing it, and passes a decompression error on without a
 * `type` (its other errors have one): Nest's fallback then answered zlib's message with no field. Typed here, it is the
 * body's fault like any body the API cannot read (problem-mapping.ts: 400 invalid_body naming `body`).
 */
function decodeErrorsTyped(parser: RequestHandler): RequestHandler {
  return (req, res, next) =>
    parser(req, res, (err?: unknown) => {
      const e = err as { type?: unknown; status?: unknown } | undefined;
      if (e && typeof e === 'object' && e.type === undefined && e.status === 400) e.type = 'entity.decode.failed';
      next(err);
    });
}

/** body-parser would decode bytes that are not UTF-8 into U+FFFD: a login would silently become another one. */
function utf8Only(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding === 'utf-8' && !isUtf8(body)) {
    throw Object.assign(new Error('the body is not valid UTF-8'), { type: 'entity.not.utf8' });
  }
}

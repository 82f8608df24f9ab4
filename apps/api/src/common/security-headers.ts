import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

type Directives = Record<string, string[]>;

/**
 * The one home for response header rules. helmet (well kept, no dependencies) sets the standard set (nosniff,
 * framing, referrer, cross-origin isolation, no X-Powered-By) and formats the CSP; we only choose the policy per
 * surface and the cache rule, which helmet leaves alone. Surfaces: the API (JSON, nothing to render), the status
 * page at `/` (our own files only), and Swagger UI at /docs and /api/v1/docs.
 */

/** API answers are data: nothing in them may load, run, or be framed, if a browser is ever tricked into rendering one. */
const API_CSP: Directives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** Only our own files: no inline script or style, no other origin, no framing (apps/api/static has none). */
const STATUS_PAGE_CSP: Directives = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'object-src': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/**
 * Swagger UI as @nestjs/swagger serves it: scripts are files of its own (self), but its page carries inline
 * `<style>` blocks and a style attribute, and its CSS draws icons from data: URIs. Styles cannot run code, so
 * 'unsafe-inline' is allowed for style-src only (hashes would break on every @nestjs/swagger upgrade). connect-src
 * stays 'self': the page's `?url=` parameter cannot make it fetch a document from elsewhere.
 */
const DOCS_CSP: Directives = {
  ...STATUS_PAGE_CSP,
  'img-src': ["'self'", 'data:'],
  'style-src': ["'self'", "'unsafe-inline'"],
};

function headers(csp: Directives): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const options: HelmetOptions = {
    contentSecurityPolicy: { useDefaults: false, directives: csp },
    // DENY as well as frame-ancestors 'none', for browsers that predate CSP 2.
    xFrameOptions: { action: 'deny' },
    // HSTS belongs where TLS ends (the reverse proxy); this process speaks plain HTTP and cannot know the domain.
    strictTransportSecurity: false,
  };
  return replayed(helmet(options));
}

/**
 * helmet's answer, worked out once: with these options (no per-request CSP nonce: every directive is a fixed
 * string) its headers depend on nothing in the request, and running its chain of a dozen middlewares on every answer
 * showed in the API's CPU profile under the mail server's login events (bench:events). Its header writes are recorded
 * on a stand-in response at startup, and replayed in the same order on each one.
 */
function replayed(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const writes: ((res: ServerResponse) => void)[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      writes.push((res) => res.setHeader(name, value));
      return recorder;
    },
    removeHeader: (name: string) => {
      writes.push((res) => res.removeHeader(name));
    },
  };
  let finished = false;
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (err) => {
    if (err) throw err instanceof Error ? err : new Error('helmet refused its own options');
    finished = true;
  });
  if (!finished) throw new Error('helmet did not set its headers synchronously: replaying them would be wrong');
  return (_req, res, next) => {
    for (const write of writes) write(res);
    next();
  };
}

/**
 * API answers are never stored: they carry e-mail addresses, audit entries and key-scoped views. `no-store` does not
 * stop conditional GETs (progress answers keep their ETag, and a client that sends If-None-Match still gets a 304):
 * every client we have (the status page, the demo, dashboards) keeps the last view itself rather than in an HTTP
 * cache. The status page and the docs are public files: revalidated on each load instead (no-cache).
 */
export const API_CACHE_CONTROL = 'no-store';
const PUBLIC_FILES_CACHE_CONTROL = 'no-cache';

/** Every answer: the API's headers, or the docs' for paths under one of `docsPaths`. Registered first. */
export function securityHeaders(docsPaths: readonly string[]): RequestHandler {
  const api = headers(API_CSP);
  const docs = headers(DOCS_CSP);
  const isDocs = (path: string) => docsPaths.some((p) => path === p || path.startsWith(`${p}/`));
  return (req, res, next) => {
    const forDocs = isDocs(req.path);
    res.setHeader('Cache-Control', forDocs ? PUBLIC_FILES_CACHE_CONTROL : API_CACHE_CONTROL);
    (forDocs ? docs : api)(req, res, next);
  };
}

/** The status page's files: its own CSP and cache rule over the API's (applied by the status page handler). */
export function statusPageHeaders(): RequestHandler {
  const page = headers(STATUS_PAGE_CSP);
  return (req, res, next) => {
    res.setHeader('Cache-Control', PUBLIC_FILES_CACHE_CONTROL);
    page(req, res, next);
  };
}

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { unauthorized } from '../common/api-exceptions';
import { routeLabelOf } from '../common/url-guard';
import { bearer, queryKey } from './api-key.guard';
import { KeyAuthenticator, unauthenticatedMessage } from './key-authenticator';

/**
 * A body is read for a caller with a key, never before: a request under the API prefix that carries one (a length
 * above 0 or a chunked transfer) and no key the verifier accepts is refused with the guard's own 401 (or the address
 * budget's 429) before the JSON parsers inflate and parse a byte of it (up to API_WAVE_JSON_LIMIT_KB), and its
 * connection closed rather than its upload read. Without this, an anonymous client could make the API parse megabytes
 * per request, since the guard runs after the parsers. The route's role is still the guard's to judge; a key verified
 * here is in the verifier's memory, so the guard's check of it costs no query and no budget.
 * `?key=` is read as the guard reads it on the routes that take it (the login events); elsewhere the guard refuses it.
 */
export function keyBeforeBody(
  prefix: string,
  templates: readonly string[],
  keys: KeyAuthenticator,
  answer: (err: unknown, req: Request, res: Response) => void,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!carriesBody(req) || !(req.path === prefix || req.path.startsWith(`${prefix}/`))) {
      next();
      return;
    }
    const refuse = (err: unknown) => {
      // Refused before routing: the request metrics still label it with the route it was sent to.
      const path = routeLabelOf(templates, req.path);
      if (path) Object.assign(req, { route: { path } });
      answer(err, req, res);
    };
    const secret = bearer(req) ?? queryKey(req);
    keys
      .authenticate(secret, req, res)
      .then((principal) => (principal ? next() : refuse(unauthorized(unauthenticatedMessage(secret)))), refuse);
  };
}

/** As body-parser's type-is reads it: a body follows when Transfer-Encoding is sent or Content-Length is above 0. */
function carriesBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

import type { RequestHandler } from 'express';
import { decodeUriComponentStrict } from '@app/domain';
import { invalidParameter } from './api-exceptions';

const NOT_UTF8 = 'must be percent-encoded UTF-8';

/** `/api/v1/accounts/{login}` (an OpenAPI path) → its segments, parameters as `{ name }`. */
type Segment = string | { name: string };
function segments(template: string): Segment[] {
  return template.split('/').map((s) => (/^\{[^}]+\}$/.test(s) ? { name: s.slice(1, -1) } : s.toLowerCase()));
}

/** Whether a path's segments reach this route, as Express matches: literal segments equal, case-insensitively. */
function fits(route: Segment[], raw: string[]): boolean {
  return (
    route.length === raw.length && route.every((seg, i) => typeof seg !== 'string' || seg === raw[i].toLowerCase())
  );
}

/**
 * Which route parameter a raw path puts an undecodable segment in: the route whose literal segments match (as
 * Express matches them: on the raw path, case-insensitively, a trailing slash allowed). undefined when no route
 * has a parameter there (Express then answers 404 as for any unknown path).
 */
export function undecodableParam(templates: readonly string[], rawPath: string): string | undefined {
  const raw = rawPath.replace(/\/+$/, '').split('/');
  const bad = raw.map((s) => decodeUriComponentStrict(s) === null);
  if (!bad.includes(true)) return undefined;
  for (const template of templates) {
    const route = segments(template);
    const name = fits(route, raw)
      ? route.find((seg, i): seg is { name: string } => bad[i] && typeof seg !== 'string')
      : undefined;
    if (name) return name.name;
  }
  return undefined;
}

/**
 * The route a path would reach, as the request metrics label it (Express's `:name` form): the template whose literal
 * segments match (case-insensitively, a trailing slash allowed), the one with the most literals when several do.
 * For answers given before routing (key-before-body.ts); undefined when no route fits.
 */
export function routeLabelOf(templates: readonly string[], path: string): string | undefined {
  const raw = path.replace(/\/+$/, '').split('/');
  let best: { template: string; literals: number } | undefined;
  for (const template of templates) {
    const route = segments(template);
    if (!fits(route, raw)) continue;
    const literals = route.filter((seg) => typeof seg === 'string').length;
    if (!best || literals > best.literals) best = { template, literals };
  }
  return best?.template.replace(/\{([^}]+)\}/g, ':$1');
}

/** The first query parameter whose name or value is not valid percent-encoded UTF-8, named as well as it can be. */
export function undecodableQueryParam(rawQuery: string): string | undefined {
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    const key = decodeUriComponentStrict((eq === -1 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
    if (key === null) return 'query';
    if (eq !== -1 && decodeUriComponentStrict(part.slice(eq + 1).replace(/\+/g, ' ')) === null) return key;
  }
  return undefined;
}

/**
 * Malformed percent-encoding in the URL is the caller's mistake, named like any other bad field. Express would
 * answer a path parameter with "Failed to decode param '%FF'" (no field), and node's query parser would quietly
 * turn bytes that are not UTF-8 into U+FFFD, so `?login=%FF` would search for a login nobody has. The route
 * templates come from the OpenAPI document, which is generated from the controllers: a new route is covered as
 * soon as it exists.
 */
export function urlEncodingGuard(templates: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    const url = req.url;
    if (!url.includes('%')) {
      next();
      return;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const param = path.includes('%') ? undecodableParam(templates, path) : undefined;
    if (param) {
      next(invalidParameter(param, NOT_UTF8));
      return;
    }
    const query = q === -1 ? undefined : undecodableQueryParam(url.slice(q + 1));
    next(query ? invalidParameter(query, NOT_UTF8) : undefined);
  };
}

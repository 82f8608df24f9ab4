import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import express, { type RequestHandler } from 'express';
import { statusPageHeaders } from '../common/security-headers';

/**
 * apps/api/static, read where it lies in the source tree rather than copied into dist: the same folder serves
 * `node dist/apps/api/src/main.js` (dist/apps/api/src/status-page → five levels up to the root), Jest
 * (apps/api/src/status-page → two levels up) and the image (the Dockerfile copies the folder beside dist).
 */
export function statusPageDir(): string {
  const candidates = [join(__dirname, '../../static'), join(__dirname, '../../../../../apps/api/static')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  // Fail at boot, not when someone opens the page during an incident.
  if (!found) throw new Error(`status page files not found (looked in ${candidates.join(', ')})`);
  return found;
}

/**
 * The incident-room status page at `/`: static HTML, CSS and JS, loaded without a key (the page asks for one and
 * sends it with each data call, so nothing here is secret). Everything else falls through to the API without
 * touching the disk: the files are listed once at boot, since a stat per API request cost a fifth of the API's CPU
 * under dashboard polling (profiled).
 */
export function statusPage(dir: string = statusPageDir()): RequestHandler {
  const paths = new Set(['/', ...readdirSync(dir).map((file) => `/${file}`)]);
  const serve = express.static(dir, {
    index: 'index.html',
    redirect: false,
    dotfiles: 'ignore',
    // Revalidated on each load (no-cache, set with the other headers): after a deploy the page and its script must
    // not come from different versions.
    maxAge: 0,
    cacheControl: false,
  });
  // CSP (self only), nosniff, no framing: the rules live with every other header rule.
  const headers = statusPageHeaders();
  return (req, res, next) => {
    if (paths.has(req.path) && (req.method === 'GET' || req.method === 'HEAD')) {
      headers(req, res, () => void serve(req, res, next));
    } else next();
  };
}

import { getAccessHandler, patchAccessHandler } from './handlers/access.handler';
import { batchHandler } from './handlers/batch.handler';
import { capabilitiesHandler } from './handlers/capabilities.handler';
import { sessionsHandler } from './handlers/sessions.handler';
import type { V1Handler } from './handlers/v1-handler';
import { Problem } from './problem';

export interface V1Route {
  handler: V1Handler;
  /** The raw (still percent-encoded) {account} segment, for the routes that have one. */
  accountSegment?: string;
}

/**
 * The contract's five routes. A known path with another method is a 405 with `Allow`; anything else
 * under /v1 is a 404 `not_found` (the contract's `account_not_found` is kept for accounts).
 */
export function routeV1(method: string, pathname: string): V1Route | Problem {
  const parts = pathname.split('/');
  // parts[0] is '' and parts[1] is 'v1'.
  if (parts.length === 3 && parts[2] === 'capabilities') {
    return method === 'GET' ? { handler: capabilitiesHandler } : notAllowed(method, 'GET');
  }
  if (parts.length === 4 && parts[2] === 'access' && parts[3] === 'batch') {
    return method === 'POST' ? { handler: batchHandler } : notAllowed(method, 'POST');
  }
  if (parts.length === 5 && parts[2] === 'accounts' && parts[3] !== '') {
    const accountSegment = parts[3];
    if (parts[4] === 'access') {
      if (method === 'GET') return { handler: getAccessHandler, accountSegment };
      if (method === 'PATCH') return { handler: patchAccessHandler, accountSegment };
      return notAllowed(method, 'GET, PATCH');
    }
    if (parts[4] === 'sessions') {
      return method === 'DELETE' ? { handler: sessionsHandler, accountSegment } : notAllowed(method, 'DELETE');
    }
  }
  return new Problem(404, 'not_found', `no such resource: ${pathname}`);
}

function notAllowed(method: string, allow: string): Problem {
  return new Problem(405, 'method_not_allowed', `${method} is not allowed here (allowed: ${allow})`, {}, { allow });
}

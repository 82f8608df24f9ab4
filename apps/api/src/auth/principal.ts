import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { ApiRole } from '@app/db';

/** The caller behind a request, set by ApiKeyGuard. `actor` is what the audit log records. */
export interface Principal {
  keyId: string;
  name: string;
  role: ApiRole;
  /** `<role>:<key name>`, e.g. `ops:alice`. */
  actor: string;
}

declare module 'http' {
  interface IncomingMessage {
    principal?: Principal;
  }
}

/** The audit actor of the request (`ops:alice`). Only on routes behind ApiKeyGuard. */
export const Actor = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const principal = ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
  if (!principal) throw new Error('Actor used on a route without a principal');
  return principal.actor;
});

import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { ApiRole } from '@app/db';
import { ROLES } from './access.decorator';

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

/** Whether the caller may read e-mail addresses (default deny: only the roles ROLES.addressReaders lists). */
export function seesAddresses(principal: Principal | undefined): boolean {
  return principal !== undefined && (ROLES.addressReaders as readonly ApiRole[]).includes(principal.role);
}

/** Whether the caller of the request may read e-mail addresses (see seesAddresses). */
export const SeesAddresses = createParamDecorator((_data: unknown, ctx: ExecutionContext): boolean =>
  seesAddresses(ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal),
);

/** The caller's key id: the identity the two-person rule compares (docs/approvals.md). Only behind ApiKeyGuard. */
export const KeyId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const principal = ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
  if (!principal) throw new Error('KeyId used on a route without a principal');
  return principal.keyId;
});

/** The whole principal of the request. Only behind ApiKeyGuard. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
  if (!principal) throw new Error('Caller used on a route without a principal');
  return principal;
});

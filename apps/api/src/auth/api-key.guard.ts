import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { ApiRole } from '@app/db';
import { forbidden, unauthorized } from '../common/api-exceptions';
import { ACCESS_KEY, AccessRule, KEY_IN_QUERY } from './access.decorator';
import { KeyAuthenticator, unauthenticatedMessage } from './key-authenticator';
import { Principal } from './principal';

/**
 * Default deny: a route without an access rule is refused to everybody (and RouteAccessCheck stops the boot
 * before that can ship). Otherwise: a valid, unrevoked bearer key whose role the route lists, authenticated at the
 * price its client address may pay (KeyAuthenticator: past the address's budget, 429 without touching the database).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KeyAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (rule && 'public' in rule) return true;
    const http = context.switchToHttp();
    const keyInQuery = this.reflector.get<boolean | undefined>(KEY_IN_QUERY, context.getHandler()) === true;
    await this.admit(http.getRequest<Request>(), http.getResponse<Response>(), rule?.roles ?? [], keyInQuery);
    return true;
  }

  /**
   * The key (header, or `?key=` when `keyInQuery`), the address budget, the role. Sets req.principal; throws the
   * 401/403/429 ApiErrors.
   */
  private async admit(req: Request, res: Response, roles: readonly ApiRole[], keyInQuery: boolean): Promise<Principal> {
    const secret = bearer(req) ?? (keyInQuery ? queryKey(req) : undefined);
    const principal = await this.keys.authenticate(secret, req, res);
    if (!principal) throw unauthorized(unauthenticatedMessage(secret));
    req.principal = principal;
    if (!roles.includes(principal.role)) {
      throw forbidden(`this route is not open to the ${principal.role} role`, {
        role: principal.role,
        allowedRoles: roles,
      });
    }
    return principal;
  }
}

/** `?key=` on the routes that take it (KeyInQuery), when no header came. */
export function queryKey(req: Request): string | undefined {
  if (req.headers.authorization !== undefined) return undefined;
  const key = req.query.key;
  return typeof key === 'string' && /^[^\s]{1,512}$/.test(key) ? key : undefined;
}

/** The key of `Authorization: Bearer <key>`, as the guard reads it (the progress stream checks it again as it runs). */
export function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  return typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header.trim())?.[1] : undefined;
}

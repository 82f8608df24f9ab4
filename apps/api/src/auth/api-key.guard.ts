import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { ApiRole } from '@app/db';
import { ApiError, forbidden, unauthorized } from '../common/api-exceptions';
import { ACCESS_KEY, AccessRule, KEY_IN_QUERY } from './access.decorator';
import { AddressBudget } from './address-budget';
import { ApiKeyVerifier } from './api-key.verifier';
import { addressGroup } from './client-address';
import { Principal } from './principal';

/**
 * Default deny: a route without an access rule is refused to everybody (and RouteAccessCheck stops the boot
 * before that can ship). Otherwise: a valid, unrevoked bearer key whose role the route lists.
 *
 * Before any look-up, a request whose key would cost a query (not verified by this process before, no look-up of it
 * under way) is charged to its client address's budget (AddressBudget): past it, 429 without touching the
 * database, so random keys cannot each cost a query.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: ApiKeyVerifier,
    private readonly budget: AddressBudget,
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
    const principal =
      secret !== undefined && this.verifier.isFree(secret)
        ? await this.verifier.verify(secret)
        : await this.charged(secret, req, res);
    if (!principal) {
      throw unauthorized(
        secret === undefined ? 'send an API key: Authorization: Bearer <key>' : 'the API key is unknown or revoked',
      );
    }
    req.principal = principal;
    if (!roles.includes(principal.role)) {
      throw forbidden(`this route is not open to the ${principal.role} role`, {
        role: principal.role,
        allowedRoles: roles,
      });
    }
    return principal;
  }

  /** A verification paid for by the client address; a key found valid gives the token back. */
  private async charged(secret: string | undefined, req: Request, res: Response): Promise<Principal | null> {
    const group = addressGroup(req.ip);
    const taken = this.budget.take(group);
    if (!taken.ok) {
      res.setHeader('Retry-After', String(taken.retryAfterSeconds));
      throw new ApiError(
        429,
        'rate_limited',
        'too many requests without a valid API key from this address; retry after the Retry-After delay',
        { retryAfterSeconds: taken.retryAfterSeconds },
      );
    }
    const principal = secret === undefined ? null : await this.verifier.verify(secret);
    if (principal) this.budget.giveBack(group);
    return principal;
  }
}

/** `?key=` on the routes that take it (KeyInQuery), when no header came. */
function queryKey(req: Request): string | undefined {
  if (req.headers.authorization !== undefined) return undefined;
  const key = req.query.key;
  return typeof key === 'string' && /^[^\s]{1,512}$/.test(key) ? key : undefined;
}

/** The key of `Authorization: Bearer <key>`, as the guard reads it (the progress stream checks it again as it runs). */
export function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  return typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header.trim())?.[1] : undefined;
}

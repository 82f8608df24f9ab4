import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { forbidden, unauthorized } from '../common/api-exceptions';
import { ACCESS_KEY, AccessRule } from './access.decorator';
import { ApiKeyVerifier } from './api-key.verifier';

/**
 * Default deny: a route without an access rule is refused to everybody (and RouteAccessCheck stops the boot
 * before that can ship). Otherwise: a valid, unrevoked bearer key whose role the route lists.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (rule && 'public' in rule) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
    if (!match) throw unauthorized('send an API key: Authorization: Bearer <key>');
    const principal = await this.verifier.verify(match[1]);
    if (!principal) throw unauthorized('the API key is unknown or revoked');
    req.principal = principal;
    if (!rule || !rule.roles.includes(principal.role)) {
      throw forbidden(`this route is not open to the ${principal.role} role`, {
        role: principal.role,
        allowedRoles: rule?.roles ?? [],
      });
    }
    return true;
  }
}

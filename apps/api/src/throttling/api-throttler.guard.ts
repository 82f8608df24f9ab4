import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { ACCESS_KEY, AccessRule } from '../auth/access.decorator';
import type { Principal } from '../auth/principal';

/**
 * Per API key (not per IP: several dashboards may share a proxy). Runs after ApiKeyGuard, so the key is known;
 * public routes (health) are not counted, and when Redis is down requests are let through: an outage of the
 * rate limiter must not take the API down in the middle of an incident.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    return rule !== undefined && 'public' in rule;
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const principal = req.principal as Principal | undefined;
    return principal ? `key:${principal.keyId}` : `ip:${String(req.ip)}`;
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await super.canActivate(context);
    } catch (err) {
      if (isRedisFailure(err)) {
        this.logger.warn(`rate limiter unavailable, request let through: ${(err as Error).message}`);
        return true;
      }
      throw err;
    }
  }
}

function isRedisFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return /Connection is closed|ECONNREFUSED|Command timed out|Stream isn't writeable|max retries/i.test(err.message);
}

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

  /** Said already for this outage: the rate limiter's absence is one line per Redis outage, not one per request. */
  private limiterDownSaid = false;

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    // Public routes never ask Redis: their answer says nothing about it (so they do not end the outage either).
    if (await this.shouldSkip(context)) return true;
    try {
      const allowed = await super.canActivate(context);
      this.limiterDownSaid = false;
      return allowed;
    } catch (err) {
      if (!isRedisFailure(err)) {
        this.limiterDownSaid = false; // a 429: Redis answered
        throw err;
      }
      if (!this.limiterDownSaid) {
        this.logger.warn(
          `rate limiter unavailable, requests let through until Redis answers: ${(err as Error).message}`,
        );
        this.limiterDownSaid = true;
      }
      return true;
    }
  }
}

function isRedisFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return /Connection is closed|ECONNREFUSED|Command timed out|Stream isn't writeable|max retries/i.test(err.message);
}

import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiQuery } from '@nestjs/swagger';
import type { ApiRole } from '@app/db';
import { ApiProblem } from '../common/problem.dto';

export const ACCESS_KEY = 'reopen:access';
export type AccessRule = { public: true } | { roles: readonly ApiRole[] };

/**
 * Who may call a route. Every route must say it (the app refuses to boot otherwise): default deny.
 *
 * Reads are layered: `viewer` routes are open to ops and support too (they watch the same dashboards);
 * writes are exactly the brief's roles. `signals` is a machine role: it may only push signals.
 */
export const ROLES = {
  readers: ['ops', 'support', 'viewer'],
  supportReaders: ['support', 'ops'],
  support: ['support'],
  ops: ['ops'],
  signals: ['signals'],
  /** Who may read e-mail addresses where a reader route shows them (explicit lists, engine details): not viewers. */
  addressReaders: ['ops', 'support'],
} as const satisfies Record<string, readonly ApiRole[]>;

export function Access(...roles: ApiRole[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(ACCESS_KEY, { roles } satisfies AccessRule),
    ApiBearerAuth('api-key'),
    ApiExtension('x-roles', roles),
    ApiProblem(401, 'no key, or an unknown or revoked key'),
    ApiProblem(403, `the key's role is not one of: ${roles.join(', ')}`),
    ApiProblem(
      429,
      'rate_limited: too many requests for this key, or from this client address without a key the API knows ' +
        '(unknown, revoked or none); Retry-After says when to try again',
    ),
  );
}

export const KEY_IN_QUERY = 'reopen:key-in-query';

/**
 * The key may also come as `?key=<key>` (when no Authorization header is sent): for machines that can only be given a
 * URL, such as Dovecot's event exporter. The access log never writes query strings (common/http-logger.ts).
 */
export function KeyInQuery(): MethodDecorator {
  return applyDecorators(
    SetMetadata(KEY_IN_QUERY, true),
    ApiQuery({ name: 'key', required: false, description: 'the API key, for senders that cannot set a header' }),
  );
}

/** Liveness, readiness: no key (orchestrators and load balancers call them). */
export function Public(): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(ACCESS_KEY, { public: true } satisfies AccessRule), ApiExtension('x-roles', []));
}

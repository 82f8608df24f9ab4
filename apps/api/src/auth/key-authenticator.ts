import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiError } from '../common/api-exceptions';
import { AddressBudget } from './address-budget';
import { ApiKeyVerifier } from './api-key.verifier';
import { addressGroup } from './client-address';
import { Principal } from './principal';

/**
 * Who a key is, at the price the caller's address may pay: a key this process verified recently costs nothing; any
 * other look-up (no key, an unknown or revoked key, a key's first request) is first charged to the client address's
 * budget (AddressBudget), and past it is a 429 without touching the database, so random keys cannot each cost a
 * query. A look-up that finds a valid key gives its token back. Used by the guard and, for requests with a body,
 * before the body is read (key-before-body.ts); the second asks of a key the first verified cost nothing.
 */
@Injectable()
export class KeyAuthenticator {
  constructor(
    private readonly verifier: ApiKeyVerifier,
    private readonly budget: AddressBudget,
  ) {}

  /** The key's principal, or null (none sent, unknown or revoked); throws the 429 ApiError past the budget. */
  async authenticate(secret: string | undefined, req: Request, res: Response): Promise<Principal | null> {
    if (secret !== undefined && this.verifier.isFree(secret)) return this.verifier.verify(secret);
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

/** The guard's 401 message, for a request without a key or with one the verifier refused. */
export const unauthenticatedMessage = (secret: string | undefined): string =>
  secret === undefined ? 'send an API key: Authorization: Bearer <key>' : 'the API key is unknown or revoked';

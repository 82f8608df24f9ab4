/**
 * What an answer of the provisioning contract promises, as matchers for `toMatchObject`: every promised field must
 * be there with its type, and fields beyond them are allowed (docs/provisioning-contract-notes.md, "Extra fields").
 * The suite checks every answer with these, and checks these against the contract's own examples
 * (provisioning.contract-spec.ts, "the suite's reading of the contract").
 */

// expect's matchers are typed `any`; as `unknown` they are only ever compared.
const a = (type: unknown): unknown => expect.any(type) as unknown;
const matching = (re: RegExp): unknown => expect.stringMatching(re) as unknown;

const PROTOCOLS = { imap: a(Boolean), pop3: a(Boolean) };

export const CAPABILITIES = {
  protocols: expect.arrayContaining([matching(/^(imap|pop3)$/)]) as unknown,
  maxBatchItems: a(Number),
  revokeSessions: a(Boolean),
  conditionalUpdates: a(Boolean),
  idempotencyKeyTtlSeconds: a(Number),
  propagation: { mode: matching(/^(immediate|eventual)$/), maxSeconds: a(Number) },
  rateLimits: {
    requestsPerSecond: a(Number),
    requestBurst: a(Number),
    accountUpdatesPerSecond: a(Number),
    accountUpdateBurst: a(Number),
  },
};

export const ACCESS_STATE = {
  account: a(String),
  protocols: PROTOCOLS,
  version: a(Number),
  updatedAt: a(String),
};

/** A PATCH answer: AccessState and `changed`; `sessions` is checked on its own (sessionsAnswer). */
export const PATCH_RESULT = { ...ACCESS_STATE, changed: a(Boolean) };

export const SESSIONS_RESULT = { account: a(String), sessions: matching(/^(revoked|none)$/) };

/**
 * `sessions` in a PATCH answer or a batch item, by what the change did (notes, "sessions"): when revokeSessions was
 * asked and a protocol went from on to off, it is there (`revoked`, or `none` when no session was open); otherwise
 * it may be left out, and when present it is `none`: nothing was turned off, so nothing was revoked.
 */
export function sessionsAnswer(turnedOff: boolean): unknown {
  return turnedOff ? matching(/^(revoked|none)$/) : notRevoked;
}

const notRevoked = {
  asymmetricMatch: (value: unknown) => value === undefined || value === 'none',
  toString: () => 'absent or "none"',
  toAsymmetricMatcher: () => 'absent or "none"',
};

import { applyDesired, turnsSomethingOff } from '../desired-state';
import { problemResponse } from '../http-io';
import { badRequest, Problem } from '../problem';
import { canonicalJson, desiredFromProtocols, parseIfMatch, unknownField, writeOptions } from '../request-validation';
import { accessState, accountNotFound, etag, resolveAccount, stateResponse } from './access-state';
import { NO_ITEMS, type Executed, type Operation, type V1Handler, type V1Request } from './v1-handler';

const PATCH_FIELDS = ['protocols', 'revokeSessions', 'reason'] as const;

/** GET /v1/accounts/{account}/access -> 200 AccessState + ETag, or 404 account_not_found. */
export const getAccessHandler: V1Handler = {
  endpoint: 'get',
  scope: 'access:read',
  readsBody: false,
  acceptsIdempotencyKey: false,
  prepare({ state, store, account }: V1Request): Operation {
    const login = account as string;
    return {
      accounts: [login],
      updateCost: 0,
      fingerprint: '',
      execute(): Executed {
        const i = resolveAccount(store, state.faults, login);
        if (i < 0) {
          return { response: accountNotFound(login), outcome: 'account_not_found', applied: [], tally: NO_ITEMS };
        }
        return {
          response: stateResponse(accessState(store, i), store.versions[i]),
          outcome: 'ok',
          applied: [],
          tally: NO_ITEMS,
        };
      },
    };
  },
};

/**
 * PATCH /v1/accounts/{account}/access: sets the protocols sent (others untouched). `version` goes up only
 * when something changed; `If-Match` makes it conditional (412 version_mismatch + currentVersion).
 */
export const patchAccessHandler: V1Handler = {
  endpoint: 'patch',
  scope: 'access:write',
  readsBody: true,
  acceptsIdempotencyKey: true,
  prepare({ state, store, account, headers, body, needsFingerprint }: V1Request): Operation | Problem {
    const login = account as string;
    const input = body as Record<string, unknown>;
    const extra = unknownField(input, PATCH_FIELDS);
    if (extra !== undefined) return badRequest('invalid_request', `unknown field "${extra}"`);
    if (input.protocols === undefined) return badRequest('invalid_protocols', 'protocols is required');
    const desired = desiredFromProtocols(input.protocols);
    if (typeof desired !== 'number') return badRequest(desired.code, desired.detail);
    const options = writeOptions(input);
    if (options instanceof Problem) return options;
    const rawIfMatch = headers['if-match'];
    const ifMatch = rawIfMatch === undefined ? undefined : parseIfMatch(rawIfMatch);
    if (ifMatch instanceof Problem) return ifMatch;
    if (ifMatch !== undefined && !state.settings.conditionalUpdates) {
      return badRequest('invalid_if_match', 'this mailstore does not support conditional updates');
    }

    return {
      accounts: [login],
      updateCost: 1,
      fingerprint: needsFingerprint ? `PATCH ${login}\u0000${canonicalJson(input)}` : '',
      execute(): Executed {
        const i = resolveAccount(store, state.faults, login);
        if (i < 0) {
          return { response: accountNotFound(login), outcome: 'account_not_found', applied: [], tally: failedOne };
        }
        const version = store.versions[i];
        if (
          ifMatch !== undefined &&
          (state.faults.isConflict(login) || (ifMatch !== '*' && !ifMatch.includes(version)))
        ) {
          const problem = new Problem(
            412,
            'version_mismatch',
            `If-Match ${rawIfMatch} does not match the current version ${version}`,
            { currentVersion: version },
            { etag: etag(version) },
          );
          return {
            response: problemResponse(problem),
            outcome: 'version_mismatch',
            applied: [],
            tally: failedOne,
          };
        }
        const previous = store.flags[i];
        const next = applyDesired(previous, desired);
        const changed = next !== previous;
        let revoked = false;
        if (changed) {
          store.flags[i] = next;
          store.versions[i] = version + 1;
          store.updatedAt[i] = Date.now();
          if (options.revokeSessions && state.settings.revokeSessions && turnsSomethingOff(previous, next)) {
            revoked = store.sessions[i] > 0;
            store.sessions[i] = 0;
          }
        }
        const answer = {
          ...accessState(store, i),
          changed,
          ...(options.revokeSessions ? { sessions: revoked ? 'revoked' : 'none' } : {}),
        };
        return {
          response: stateResponse(answer, store.versions[i]),
          outcome: 'ok',
          applied: changed ? [login] : [],
          tally: { applied: changed ? 1 : 0, unchanged: changed ? 0 : 1, failed: 0, revoked: revoked ? 1 : 0 },
        };
      },
    };
  },
};

const failedOne = { ...NO_ITEMS, failed: 1 };

import { JSON_CONTENT_TYPE } from '../http-io';
import { accountNotFound, resolveAccount } from './access-state';
import { NO_ITEMS, type Executed, type Operation, type V1Handler, type V1Request } from './v1-handler';

/**
 * DELETE /v1/accounts/{account}/sessions (doveadm kick or the provider's equivalent):
 * `revoked` when live sessions were ended, `none` when there were none (or revocation is not offered).
 * Protocol state and version are not touched: this is not an access change.
 */
export const sessionsHandler: V1Handler = {
  endpoint: 'sessions',
  scope: 'sessions:revoke',
  readsBody: false,
  acceptsIdempotencyKey: true,
  prepare({ state, store, account, needsFingerprint }: V1Request): Operation {
    const login = account as string;
    return {
      accounts: [login],
      updateCost: 0,
      fingerprint: needsFingerprint ? `DELETE ${login}` : '',
      execute(): Executed {
        const i = resolveAccount(store, state.faults, login);
        if (i < 0) {
          return { response: accountNotFound(login), outcome: 'account_not_found', applied: [], tally: NO_ITEMS };
        }
        const revoked = state.settings.revokeSessions && store.sessions[i] > 0;
        if (revoked) store.sessions[i] = 0;
        return {
          response: {
            status: 200,
            contentType: JSON_CONTENT_TYPE,
            headers: {},
            body: JSON.stringify({ account: login, sessions: revoked ? 'revoked' : 'none' }),
          },
          outcome: 'ok',
          applied: [],
          tally: { ...NO_ITEMS, revoked: revoked ? 1 : 0 },
        };
      },
    };
  },
};

import { JSON_CONTENT_TYPE } from '../http-io';
import { NO_ITEMS, type Operation, type V1Handler, type V1Request } from './v1-handler';

/** GET /v1/capabilities: what the adapter sizes batches, pacing and verification delays from. */
export const capabilitiesHandler: V1Handler = {
  endpoint: 'capabilities',
  scope: 'access:read',
  readsBody: false,
  acceptsIdempotencyKey: false,
  prepare({ state }: V1Request): Operation {
    return {
      accounts: [],
      updateCost: 0,
      fingerprint: '',
      execute: () => ({
        response: { status: 200, contentType: JSON_CONTENT_TYPE, headers: {}, body: state.capabilitiesJson },
        outcome: 'ok',
        applied: [],
        tally: NO_ITEMS,
      }),
    };
  },
};

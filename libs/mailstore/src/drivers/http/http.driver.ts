import { MailstoreClient } from '../../mailstore.client';
import { defineDriver } from '../driver';
import { HttpSettings } from './http.settings';

/** MAILSTORE_DRIVER=http (the default): the provisioning contract (docs/provisioning-contract.md) over HTTP. */
export const httpDriver = defineDriver({
  name: 'http',
  Settings: HttpSettings,
  create: (s, { connections, timeoutMs }) =>
    new MailstoreClient({
      baseUrl: s.MAILSTORE_URL,
      token: s.MAILSTORE_TOKEN,
      requestTimeoutMs: timeoutMs,
      connections,
    }),
});

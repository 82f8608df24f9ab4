import { Matches } from 'class-validator';

/** The http driver's variables: where the provisioning contract is served, and the token it takes. */
export class HttpSettings {
  /** Base URL of the mailstore provisioning API, ending in /v1. */
  @Matches(/^https?:\/\/[^\s]+\/v1$/, { message: 'MAILSTORE_URL must be an http(s) URL ending in /v1' })
  MAILSTORE_URL = 'http://127.0.0.1:8025/v1';

  /** Sent as `Authorization: Bearer …`. Unset or empty: the simulator's token. */
  @Matches(/^\S+$/, { message: 'MAILSTORE_TOKEN must be one word (a bearer token: no spaces)' })
  MAILSTORE_TOKEN = 'sim-token';
}

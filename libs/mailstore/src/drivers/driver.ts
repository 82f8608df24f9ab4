import type { Mailstore } from '../mailstore';

/** What the process gives every driver, whichever it is. */
export interface DriverContext {
  /** Connections the process wants to the backend: a pump each and a few for the support lane and the verifier. */
  connections: number;
  /** MAILSTORE_TIMEOUT_MS: one call at most this long (the batch lease is sized from it). */
  timeoutMs: number;
}

/**
 * A mailstore driver, as the registry (registry.ts) lists it: its name (MAILSTORE_DRIVER), its variables and how to
 * build it. docs/drivers.md, "Adding a driver".
 */
export interface MailstoreDriver<S extends object = object> {
  readonly name: string;
  /**
   * Its variables: a class-validator class whose properties are their names, with their defaults (libs/config's
   * readSettings). Read and checked at boot only when MAILSTORE_DRIVER names this driver, each problem naming its
   * variable and never a secret.
   */
  readonly Settings: new () => S;
  /**
   * The driver from its checked settings. What only the driver can check (an identifier, a combination) throws a
   * ConfigError naming the variables; no connection is opened here (pools connect on first use).
   */
  create(settings: S, context: DriverContext): Mailstore;
}

/**
 * A driver definition: `create`'s settings are typed from `Settings`; the registry holds it as a MailstoreDriver
 * (`create` is a method, so its parameter is checked bivariantly: the registry passes it only what `Settings` read).
 */
export function defineDriver<S extends object>(driver: MailstoreDriver<S>): MailstoreDriver {
  return driver;
}

/** Injection tokens for what the API gets from outside (Redis, settings). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
export const API_SETTINGS = Symbol('API_SETTINGS');
export const API_LOGGER = Symbol('API_LOGGER');

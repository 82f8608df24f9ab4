import type { Server } from 'node:http';
import type { ApiSettings } from '@app/config';

/**
 * How long node's HTTP server waits for a client (docs/security.md, "Limits before and after authentication"): the
 * headers within API_HEADERS_TIMEOUT_MS, the whole request within API_REQUEST_TIMEOUT_MS (beyond either: a 408 problem
 * from answerParserErrors, the connection closed), an idle keep-alive connection closed after
 * API_KEEP_ALIVE_TIMEOUT_MS. Set before listen: node arms its check of incomplete requests when the server starts
 * listening, every `connectionsCheckingInterval` (30 s by default, which would let a 10 s limit run to 40 s).
 */
export function boundSlowClients(server: Server, settings: ApiSettings): void {
  server.headersTimeout = settings.API_HEADERS_TIMEOUT_MS;
  server.requestTimeout = settings.API_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = settings.API_KEEP_ALIVE_TIMEOUT_MS;
  // One walk over the open connections a second at most: a limit is enforced within a tenth of it (≥ 100 ms late).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    100,
    Math.min(1_000, Math.floor(settings.API_HEADERS_TIMEOUT_MS / 10)),
  );
}

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { DispatcherSettings } from '@app/core';
import { SIGNATURE_HEADERS } from '@app/domain';

/** What the receiver does with the next request. */
export type ReceiverAnswer =
  | { kind: 'ok' }
  /** Answers this status (500, 503, 404 …). */
  | { kind: 'status'; status: number }
  /** 429 with Retry-After in seconds. */
  | { kind: 'rate_limited'; retryAfterS: number }
  /** Answers 200 after this long (a slow receiver; past the sender's timeout, nobody reads the answer). */
  | { kind: 'slow'; delayMs: number };

/** One request as it arrived, and whether its answer reached an open connection (the sender could read it). */
export interface ReceivedRequest {
  path: string;
  eventId: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  body: string;
  answered: number | null;
  /** A 2xx written to a connection still open: the receiver acknowledged the event. */
  acknowledged: boolean;
}

/**
 * A real HTTP receiver of notifications on the loopback (a node:http server), for the tests, the demo and the bench:
 * it records every request, answers as told (`answer`, per request), and can go down (stops listening, drops its
 * connections) and come back on the same port.
 */
export class NotificationReceiver {
  readonly received: ReceivedRequest[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private answerFor: (req: ReceivedRequest) => ReceiverAnswer = () => ({ kind: 'ok' });

  private constructor(public port: number) {}

  /** Starts listening on `port` (0: a free one). */
  static async start(port = 0): Promise<NotificationReceiver> {
    const r = new NotificationReceiver(port);
    await r.up();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** How to answer from now on: one answer for all, or one decided per request (its body, its path). */
  answer(a: ReceiverAnswer | ((req: ReceivedRequest) => ReceiverAnswer)): void {
    this.answerFor = typeof a === 'function' ? a : () => a;
  }

  /** Acknowledged requests at `path` (every path when absent), in arrival order. */
  acknowledged(path?: string): ReceivedRequest[] {
    return this.received.filter((r) => r.acknowledged && (path === undefined || r.path === path));
  }

  /** How many times each event id was acknowledged at `path`: a count above 1 is a duplicate. */
  acknowledgedCounts(path?: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.acknowledged(path)) counts.set(r.eventId ?? '', (counts.get(r.eventId ?? '') ?? 0) + 1);
    return counts;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Stops listening and cuts every open connection: senders get ECONNREFUSED (or a reset) until up(). */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.down();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const record: ReceivedRequest = {
        path: req.url ?? '/',
        eventId: header(SIGNATURE_HEADERS.eventId),
        timestamp: header(SIGNATURE_HEADERS.timestamp),
        signature: header(SIGNATURE_HEADERS.signature),
        body: Buffer.concat(chunks).toString('utf8'),
        answered: null,
        acknowledged: false,
      };
      this.received.push(record);
      const a = this.answerFor(record);
      const send = (status: number, headers: Record<string, string> = {}) => {
        // A sender that gave up (timeout, killed) closed its connection: nobody reads this answer.
        if (req.socket.destroyed || res.destroyed) return;
        record.answered = status;
        record.acknowledged = status >= 200 && status < 300;
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status < 300 ? 'ok' : 'no');
      };
      switch (a.kind) {
        case 'ok':
          return send(200);
        case 'status':
          return send(a.status);
        case 'rate_limited':
          return send(429, { 'retry-after': String(a.retryAfterS) });
        case 'slow': {
          const timer = setTimeout(() => send(200), a.delayMs);
          res.on('close', () => clearTimeout(timer));
          return;
        }
      }
    });
  }
}

/**
 * A dispatcher's settings for tests against a NotificationReceiver: quick backoff, a day's give-up bound, and a POST
 * timeout long enough that a busy CI machine never turns an acknowledged POST into a timeout (and so a second copy);
 * a test about timeouts sets its own.
 */
export const TEST_DISPATCHER_SETTINGS: DispatcherSettings = {
  publicUrl: 'https://reopen.example/',
  batchSize: 10,
  timeoutMs: 5_000,
  leaseMs: 8_000,
  backoff: { baseMs: 50, maxMs: 200 },
  giveUp: { afterMs: 86_400_000, maxAttempts: 0 },
};

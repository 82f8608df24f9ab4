import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createEngineHarness, EngineHarness } from './engine-harness';

/** What the gateway answers instead of relaying: a status and a problem body. */
export interface GatewayRefusal {
  status: number;
  problem: Record<string, unknown>;
}

/**
 * An HTTP gateway in front of the mailstore simulator, as providers run one: it relays every request to `target`
 * unchanged, except those `intercept` answers itself (a refusal of the whole call). A dropped upstream answer is
 * dropped here too.
 */
export class HttpGateway {
  /** Answers a request itself when this returns a refusal; relays it otherwise. */
  intercept: (req: IncomingMessage, body: Buffer) => GatewayRefusal | undefined = () => undefined;
  /** Batch calls seen (relayed or refused). */
  batchCalls = 0;
  target = '';

  private constructor(private readonly server: Server) {}

  static async start(): Promise<HttpGateway> {
    const server: Server = createServer((req, res) => void gateway.relay(req, res));
    const gateway = new HttpGateway(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return gateway;
  }

  /** The gateway's `/v1` base, for MAILSTORE_URL. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'POST' && req.url?.endsWith('/access/batch')) this.batchCalls++;
    const refusal = this.intercept(req, Buffer.concat(chunks));
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'application/problem+json' });
      return void res.end(JSON.stringify({ type: 'about:blank', status: refusal.status, ...refusal.problem }));
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
    ) as Record<string, string>;
    try {
      const answer = await fetch(`${this.target}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(k)) out[k] = v;
      });
      res.writeHead(answer.status, out);
      res.end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      res.destroy(); // the simulator dropped the answer: so does the gateway
    }
  }
}

/**
 * An engine harness whose worker reaches the simulator through a gateway (started, with `accounts` imported, leaked
 * none): the gateway's `intercept` decides what it refuses. Close the harness, then the gateway.
 */
export async function engineBehindGateway(
  label: string,
  o: { accounts: number; seed: number; env?: Record<string, string> },
): Promise<{ h: EngineHarness; gateway: HttpGateway }> {
  const gateway = await HttpGateway.start();
  const h = await createEngineHarness(label, { accounts: o.accounts }, { MAILSTORE_URL: gateway.url, ...o.env });
  gateway.target = h.sim.baseUrl.replace(/\/v1$/, '');
  await h.importPopulation({ count: o.accounts, seed: o.seed, leakedShare: 0 });
  await h.startWorker();
  return { h, gateway };
}

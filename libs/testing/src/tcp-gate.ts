import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP relay to `targetPort` that a test shuts (connections refused mid-way) and opens again. */
export interface TcpGate {
  port: number;
  /** From now on every connection through the gate is cut at once, and those open are cut. */
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

/**
 * A dependency that goes away and comes back while the client under test keeps its address (doveadm down between a
 * write and its kick, then up for the retry). Node's net only: a relay of a few lines needs nothing more.
 */
export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  let shut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (shut) return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    shut: () => {
      shut = true;
      for (const s of sockets) s.destroy();
    },
    open: () => {
      shut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

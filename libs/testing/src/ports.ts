import { connect, createServer, type Server } from 'node:net';
import { pollUntil } from './poll-until';

/** A free TCP port on the loopback (nothing listens on it once this resolves). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * `n` free TCP ports on the loopback, all different: each is held until all are found (ports found one after the other
 * may be the same one twice: a Dovecot given it for two listeners refused to start, "duplicate listener").
 */
export async function freeLoopbackPorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.on('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Polls until something accepts TCP connections on the loopback port. */
export async function untilListening(port: number, description: string, timeoutMs = 10_000): Promise<void> {
  await pollUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      }),
    { timeoutMs, description },
  );
}

import { connect, createServer } from 'node:net';
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

import { connect, createServer } from 'node:net';
import { freeLoopbackPort } from './ports';

/** A PostgreSQL ErrorResponse: what a backend sends when pg_terminate_backend ends it. */
function fatalTerminated(): Buffer {
  const field = (tag: string, value: string) => Buffer.concat([Buffer.from(tag), Buffer.from(`${value}\0`)]);
  const body = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', '57P01'),
    field('M', 'terminating connection due to administrator command'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/**
 * A relay to PostgreSQL whose `nth` connection (1: the first) ends as a backend terminated right after its start-up
 * does (pg_terminate_backend, a restart): the ReadyForQuery that ends the start-up and the FATAL arrive in one chunk,
 * so pg parses both in one go, handing the connection out and then finding it dead before the borrower has run a
 * line. The other connections pass untouched. `url` is `target` through the relay.
 */
export async function terminatingPgRelay(
  target: string,
  nth = 1,
): Promise<{ url: string; terminated: () => number; close: () => Promise<void> }> {
  const upstreamUrl = new URL(target);
  let connections = 0;
  let terminated = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(upstreamUrl.port || 5432), upstreamUrl.hostname);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    if (++connections !== nth) {
      upstream.pipe(client);
      return;
    }
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Walk whole messages (type byte, int32 length); at the first ReadyForQuery, send up to it plus the FATAL.
      for (let at = 0; at + 5 <= pending.length;) {
        const end = at + 1 + pending.readInt32BE(at + 1);
        if (end > pending.length) break;
        if (String.fromCharCode(pending[at]) === 'Z') {
          client.end(Buffer.concat([pending.subarray(0, end), fatalTerminated()]));
          upstream.destroy();
          terminated++;
          return;
        }
        at = end;
      }
      // Before the first message the server may answer the SSL request with one byte ('N'): pass it on alone.
      if (pending.length === 1 && pending[0] === 'N'.charCodeAt(0)) {
        client.write(pending);
        pending = Buffer.alloc(0);
      }
    });
  });
  const port = await freeLoopbackPort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    terminated: () => terminated,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

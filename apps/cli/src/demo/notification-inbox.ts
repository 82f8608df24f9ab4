import { createServer, Server } from 'node:http';
import { JsonNotification, SIGNATURE_HEADERS, verifySignature } from '@app/domain';
import { Story } from './story';

/** One notification the demo's receiver acknowledged. */
export interface ReceivedNotification {
  id: string;
  kind: string;
  title: string;
  reason: string;
  signed: boolean;
  gate?: JsonNotification['gate'];
}

/**
 * The incident channel of the story (issue 20): a local HTTP receiver (node:http, on a free loopback port) that ops
 * subscribe with POST /api/v1/subscriptions, as they would a Slack or Teams webhook. It checks each post's signature
 * with the secret the subscription gave once, prints it as it arrives, and drops a second copy of an event id.
 */
export class NotificationInbox {
  readonly received: ReceivedNotification[] = [];
  private secret = '';

  private readonly server: Server;
  url = '';

  private constructor(story: Story) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.secret) this.accept(story, Buffer.concat(chunks).toString('utf8'), req.headers);
        res.writeHead(204).end();
      });
    });
  }

  static async start(story: Story): Promise<NotificationInbox> {
    const inbox = new NotificationInbox(story);
    await new Promise<void>((resolve) => inbox.server.listen(0, '127.0.0.1', resolve));
    const { port } = inbox.server.address() as { port: number };
    inbox.url = `http://127.0.0.1:${port}/incident-room`;
    const created = await story.ops.post<{ id: string; secret: string }>('/subscriptions', {
      name: 'incident room (demo receiver)',
      url: inbox.url,
      format: 'json',
    });
    inbox.secret = created.secret;
    return inbox;
  }

  private accept(story: Story, body: string, headers: Record<string, string | string[] | undefined>): void {
    const one = (name: string) => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const n = JSON.parse(body) as JsonNotification;
    if (this.received.some((r) => r.id === n.id)) return; // a second copy: the event id says so
    const signed = verifySignature(
      this.secret,
      { timestamp: one(SIGNATURE_HEADERS.timestamp), signature: one(SIGNATURE_HEADERS.signature) },
      body,
      Math.floor(Date.now() / 1000),
    );
    this.received.push({ id: n.id, kind: n.kind, title: n.title, reason: n.reason, signed, gate: n.gate });
    const { cyan, red } = story.term.paint;
    const line = `   📨 incident room: ${n.title}: ${n.reason}${signed ? '' : ' (BAD SIGNATURE)'}`;
    story.term.say(n.kind === 'wave.halted' ? red(line) : cyan(line));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

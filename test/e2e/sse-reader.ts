export interface SseEvent {
  event: string;
  id?: string;
  data: Record<string, unknown>;
}

/**
 * Reads a text/event-stream response with fetch: `next(predicate)` resolves with the first event that matches
 * (earlier ones are kept in `events`), or rejects at the deadline.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private readonly abort = new AbortController();
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  status = 0;
  contentType = '';

  async open(url: string, headers: Record<string, string>): Promise<this> {
    const res = await fetch(url, { headers, signal: this.abort.signal });
    this.status = res.status;
    this.contentType = res.headers.get('content-type') ?? '';
    if (res.body) this.reader = res.body.getReader();
    return this;
  }

  async next(predicate: (e: SseEvent) => boolean, timeoutMs = 20_000): Promise<SseEvent> {
    const seen = this.events.find(predicate);
    if (seen) return seen;
    const deadline = Date.now() + timeoutMs;
    const decoder = new TextDecoder();
    while (Date.now() < deadline) {
      const chunk = await Promise.race([
        this.reader!.read(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, deadline - Date.now())).unref()),
      ]);
      if (chunk === null || chunk.done) break;
      this.buffer += decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const event = parse(block);
        if (!event) continue;
        this.events.push(event);
        if (predicate(event)) return event;
      }
    }
    throw new Error(`no matching event within ${timeoutMs} ms; got ${this.events.map((e) => e.event).join(', ')}`);
  }

  close(): void {
    this.abort.abort();
  }
}

function parse(block: string): SseEvent | null {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const [field, ...rest] = line.split(':');
    const value = rest.join(':').replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return null;
  return { event, id, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
}

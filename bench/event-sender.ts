/**
 * bench:events' stand-in for Dovecot's event exporter: one event per POST (as Dovecot 2.3's `http-post` transport
 * sends them), each on one of a fixed set of keep-alive HTTP/1.1 connections, one request at a time per connection.
 *
 * It shares the machine's 2 cores with the service it measures, so it costs what a real client could at least: the
 * request is one latin1 string (request line and headers serialized once, the event's JSON from a template) written
 * on a node:net socket; of each answer it reads the status line, Content-Length and body bytes, and compares the body
 * of a 202 with the one answer for one counted event (`{"accepted":1,"dropped":{}}`): any other body is parsed. No
 * HTTP library, no promise, stream or timer per request (undici's dispatch cost ~0.09 ms of CPU per event here).
 *
 * Every event is accounted by its own answer: accepted (a 202 that counted it), or dropped by cause — `timeout` (no
 * answer within the deadline: the connection is closed, as Dovecot's transport_timeout does, and opened again),
 * `error` (the connection failed or the answer was not HTTP), `status NNN`, or the reason a 202 gives (overflow,
 * stale, duplicate…).
 */
import { connect, type Socket } from 'node:net';

export interface SendResult {
  due: number;
  /** Events posted (the others waited TIMEOUT_MS for a connection: dropped as timeouts unsent). */
  sent: number;
  accepted: number;
  /** By cause: timeout, error, status NNN, or the service's own reason (overflow, stale, duplicate…). */
  dropped: Record<string, number>;
  /** From the moment each accepted event fell due to the end of its answer, ms. */
  latencies: number[];
  seconds: number;
}

/** What one POST's answer says about its event. */
type Outcome = { accepted: number; dropped: Record<string, number> } | { cause: string };

interface Request {
  dueAt: number;
  /** performance.now() time past which the answer is a timeout. */
  deadline: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('\r\nContent-Length: ');
const ONE_ACCEPTED = Buffer.from('{"accepted":1,"dropped":{}}');
const ACCEPTED: Outcome = { accepted: 1, dropped: {} };
/** Where every connection's answers are read (each is handled before the next read). */
const READ_BUFFER = Buffer.alloc(64 * 1024);

/** One keep-alive connection: at most one request on it at a time. */
class Connection {
  private socket!: Socket;
  private rest: Buffer | undefined;
  private closed = false;
  request: Request | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly answered: (c: Connection, request: Request, outcome: Outcome) => void,
  ) {
    this.open();
  }

  connected(): Promise<void> {
    return this.socket.connecting ? new Promise((resolve) => this.socket.once('connect', resolve)) : Promise.resolve();
  }

  send(bytes: string, request: Request): void {
    this.request = request;
    this.socket.write(bytes, 'latin1');
  }

  /** Gives up the request on the wire (no answer by its deadline): a new connection, as the exporter does. */
  abandon(): void {
    const request = this.request;
    if (!request) return;
    this.reset();
    this.answered(this, request, { cause: 'timeout' });
  }

  close(): void {
    this.closed = true;
    this.request = undefined;
    this.socket.destroy();
  }

  private open(): void {
    // onread: answers are read into one buffer kept for all connections (no Buffer and no stream push per read).
    const onread = {
      buffer: READ_BUFFER,
      callback: (size: number, buf: Buffer) => {
        this.read(buf, size);
        return true; // go on reading
      },
    };
    const socket = connect({ host: this.host, port: this.port, noDelay: true, onread });
    socket.on('error', () => undefined); // followed by 'close'
    socket.on('close', () => {
      if (socket !== this.socket || this.closed) return; // replaced already, or closed by us
      const request = this.request;
      this.reset(); // the server closed it (or it failed): a new one for the next request
      if (request) this.answered(this, request, { cause: 'error' });
    });
    this.socket = socket;
    this.rest = undefined;
  }

  private reset(): void {
    const old = this.socket;
    this.request = undefined;
    this.open();
    old.destroy();
  }

  /** Reads the answers in `chunk[0, size)` (the shared read buffer: what is kept past this call is copied). */
  private read(chunk: Buffer, size: number): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk.subarray(0, size)]) : chunk.subarray(0, size);
    const length = buf.length;
    let at = 0;
    this.rest = undefined;
    while (at < length) {
      const end = buf.indexOf(HEADER_END, at);
      if (end === -1) break;
      const bodyLength = contentLength(buf, at, end);
      if (bodyLength === undefined || buf.toString('latin1', at, at + 7) !== 'HTTP/1.') return this.fail();
      const start = end + HEADER_END.length;
      if (length < start + bodyLength) break;
      const status = (buf[at + 9] - 48) * 100 + (buf[at + 10] - 48) * 10 + (buf[at + 11] - 48);
      const outcome = status === 202 ? counted(buf, start, bodyLength) : { cause: `status ${status}` };
      at = start + bodyLength;
      const request = this.request;
      this.request = undefined;
      if (request) this.answered(this, request, outcome);
    }
    if (at < length) this.rest = Buffer.from(buf.subarray(at, length)); // an answer in pieces: kept, copied
  }

  private fail(): void {
    const request = this.request;
    this.reset();
    if (request) this.answered(this, request, { cause: 'error' });
  }
}

/** The Content-Length of the answer whose head is buf[from, headerEnd) (every answer of the API has one). */
function contentLength(buf: Buffer, from: number, headerEnd: number): number | undefined {
  let at = buf.indexOf(CONTENT_LENGTH, from);
  let digitsAt = at + CONTENT_LENGTH.length;
  if (at === -1 || at > headerEnd) {
    const head = buf.toString('latin1', from, headerEnd).toLowerCase(); // another spelling of the header's name
    at = head.indexOf('\r\ncontent-length:');
    if (at === -1) return undefined;
    digitsAt = from + at + '\r\ncontent-length:'.length;
    while (buf[digitsAt] === 32) digitsAt++;
  }
  let n = 0;
  let digits = 0;
  for (let i = digitsAt; i < headerEnd && buf[i] >= 48 && buf[i] <= 57; i++, digits++) n = n * 10 + buf[i] - 48;
  return digits > 0 ? n : undefined;
}

/** A 202's body: nearly always the one for one counted event; anything else is read as JSON. */
function counted(buf: Buffer, start: number, length: number): Outcome {
  if (length === ONE_ACCEPTED.length && buf.compare(ONE_ACCEPTED, 0, length, start, start + length) === 0) {
    return ACCEPTED;
  }
  try {
    return JSON.parse(buf.toString('utf8', start, start + length)) as {
      accepted: number;
      dropped: Record<string, number>;
    };
  } catch {
    return { cause: 'error' };
  }
}

/** The event's JSON (ASCII) for event number `n`, at wall-clock time `at` (ms). */
export type EventBody = (n: number, at: number) => string;

export class EventSender {
  private readonly connections: Connection[] = [];
  private readonly head: string;
  private onAnswer: (c: Connection, request: Request, outcome: Outcome) => void = () => undefined;

  /** `origin`: http://host:port; `path`: the request target (query string included). */
  constructor(
    origin: string,
    path: string,
    count: number,
    private readonly event: EventBody,
  ) {
    const { hostname, port } = new URL(origin);
    this.head = `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: `;
    for (let i = 0; i < count; i++) {
      this.connections.push(new Connection(hostname, Number(port), (c, r, o) => this.onAnswer(c, r, o)));
    }
  }

  async open(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.connected()));
  }

  close(): void {
    for (const c of this.connections) c.close();
  }

  private post(c: Connection, n: number, request: Request): void {
    const body = this.event(n, Date.now());
    c.send(`${this.head}${body.length}\r\n\r\n${body}`, request);
  }

  /**
   * Events fall due at `perSecond` for `seconds` whatever the answers do (open loop) and wait for a free connection
   * (bounded concurrency, as the exporter's HTTP client). An event not answered within `timeoutMs` of falling due is
   * lost (`timeout`), as Dovecot loses it; one that waited that long for a connection is not sent.
   */
  openLoop(perSecond: number, seconds: number, timeoutMs: number, firstN = 0): Promise<SendResult> {
    const total = Math.round(perSecond * seconds);
    const r: SendResult = { due: 0, sent: 0, accepted: 0, dropped: {}, latencies: [], seconds };
    const drop = (cause: string, n = 1) => (r.dropped[cause] = (r.dropped[cause] ?? 0) + n);
    const started = performance.now();
    const dueAt = (i: number) => started + (i / perSecond) * 1000;
    const idle = [...this.connections];
    let next = 0; // events [next, r.due) are due and waiting for a connection
    let busy = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));

    /** Sends the next due event that is still worth sending on `c`; false when none is waiting. */
    const take = (c: Connection, now: number): boolean => {
      for (; next < r.due; next++) {
        const at = dueAt(next);
        if (now - at >= timeoutMs) {
          drop('timeout');
          continue;
        }
        this.post(c, firstN + next, { dueAt: at, deadline: at + timeoutMs });
        next++;
        busy++;
        r.sent++;
        return true;
      }
      return false;
    };
    const done = () => {
      if (next === total && busy === 0) finish();
    };
    this.onAnswer = (c, request, outcome) => {
      busy--;
      const now = performance.now();
      if ('cause' in outcome) drop(outcome.cause);
      else if (now >= request.deadline)
        drop('timeout'); // answered after the deadline, before the check below saw it
      else {
        r.accepted += outcome.accepted;
        for (const reason in outcome.dropped) drop(reason, outcome.dropped[reason]);
        r.latencies.push(now - request.dueAt);
      }
      if (!take(c, now)) idle.push(c);
      done();
    };
    // Events fall due on this tick, several at once (10 at 5,000/s), as the old sender's queue did: their answers come
    // back together too, and one wake-up of this process reads several (one per answer cost ~15 % more CPU). What a
    // connection frees takes an event that is already waiting at once.
    const tick = setInterval(() => {
      const now = performance.now();
      r.due = Math.min(total, Math.floor(((now - started) / 1000) * perSecond));
      for (const c of this.connections) if (c.request && c.request.deadline <= now) c.abandon();
      while (idle.length > 0 && take(idle[idle.length - 1], now)) idle.pop();
      done();
    }, 2);
    return finished.then(() => {
      clearInterval(tick);
      this.onAnswer = () => undefined;
      r.seconds = (performance.now() - started) / 1000;
      const accounted = r.accepted + Object.values(r.dropped).reduce((a, b) => a + b, 0);
      if (accounted !== total) throw new Error(`the sender accounted for ${accounted} of ${total} events`);
      return r;
    });
  }

  /**
   * Every connection posts one event after another as fast as the answers come (closed loop) for `seconds`, no
   * deadline: the events the API counted.
   */
  closedLoop(seconds: number, firstN: number): Promise<number> {
    const end = performance.now() + seconds * 1000;
    let n = firstN;
    let accepted = 0;
    let busy = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const request = { dueAt: 0, deadline: Infinity };
    this.onAnswer = (c, _request, outcome) => {
      if (!('cause' in outcome)) accepted += outcome.accepted;
      if (performance.now() < end) this.post(c, n++, request);
      else if (--busy === 0) finish();
    };
    for (const c of this.connections) {
      busy++;
      this.post(c, n++, request);
    }
    return finished.then(() => {
      this.onAnswer = () => undefined;
      return accepted;
    });
  }
}

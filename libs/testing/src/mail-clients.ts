import { connect, type Socket } from 'node:net';

/**
 * A small IMAP (LOGIN) and POP3 (USER/PASS) client for the real-login tests: just enough of RFC 3501 and RFC 1939
 * to log in, answer what the server said, and hold a session open. Assertions are on the server's own lines.
 */
export interface LoginAnswer {
  ok: boolean;
  /** The server's final answer to the login (`a1 NO [CONTACTADMIN] …`, `-ERR [AUTH] …`, `a1 OK …`). */
  line: string;
}

const TIMEOUT_MS = 10_000;

/** Reads CRLF-terminated lines from a socket, one at a time. */
class LineReader {
  private buffer = '';
  /** Lines received and not yet read. */
  readonly lines: string[] = [];
  private waiting: ((line: string | undefined) => void) | undefined;
  private ended = false;
  readonly closed: Promise<number>;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        this.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.ended = true;
        this.waiting?.(undefined);
        this.waiting = undefined;
        resolve(performance.now());
      });
    });
    socket.on('error', () => undefined); // 'close' follows and ends every wait
  }

  private push(line: string): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(line);
    } else this.lines.push(line);
  }

  /** The next line, or undefined when the connection closed first. */
  async next(): Promise<string | undefined> {
    const queued = this.lines.shift();
    if (queued !== undefined || this.ended) return queued;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('mail server did not answer within 10 s')), TIMEOUT_MS);
      timer.unref();
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  /** Lines until one matches (returned), or undefined when the connection closed first. */
  async until(match: (line: string) => boolean): Promise<string | undefined> {
    for (;;) {
      const line = await this.next();
      if (line === undefined || match(line)) return line;
    }
  }
}

/** `from`: the client's own loopback address (127.0.0.2, …: another remote_ip for the server). */
async function open(port: number, from?: string): Promise<LineReader> {
  const socket = connect({ port, host: '127.0.0.1', ...(from ? { localAddress: from } : {}) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return new LineReader(socket);
}

/** An IMAP quoted string (RFC 3501 §4.3). */
function quoted(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

async function imapLoginOn(r: LineReader, login: string, password: string): Promise<LoginAnswer> {
  const greeting = await r.next();
  if (!greeting?.startsWith('* OK')) throw new Error(`IMAP greeting: ${greeting}`);
  r.socket.write(`a1 LOGIN ${quoted(login)} ${quoted(password)}\r\n`);
  const line = (await r.until((l) => l.startsWith('a1 '))) ?? '(connection closed)';
  return { ok: line.startsWith('a1 OK'), line };
}

/** IMAP LOGIN, then LOGOUT: the server's answer to the login. */
export async function imapLogin(port: number, login: string, password: string, from?: string): Promise<LoginAnswer> {
  const r = await open(port, from);
  try {
    const answer = await imapLoginOn(r, login, password);
    r.socket.write('a2 LOGOUT\r\n');
    await r.until((l) => l.startsWith('a2 '));
    return answer;
  } finally {
    r.socket.destroy();
  }
}

/** POP3 USER/PASS, then QUIT: the server's answer to PASS (or to USER when that was refused). */
export async function pop3Login(port: number, login: string, password: string, from?: string): Promise<LoginAnswer> {
  const r = await open(port, from);
  try {
    const greeting = await r.next();
    if (!greeting?.startsWith('+OK')) throw new Error(`POP3 greeting: ${greeting}`);
    r.socket.write(`USER ${login}\r\n`);
    const user = (await r.next()) ?? '(connection closed)';
    if (!user.startsWith('+OK')) return { ok: false, line: user };
    r.socket.write(`PASS ${password}\r\n`);
    const line = (await r.next()) ?? '(connection closed)';
    r.socket.write('QUIT\r\n');
    await r.next();
    return { ok: line.startsWith('+OK'), line };
  } finally {
    r.socket.destroy();
  }
}

/** A logged-in IMAP session left idling, to see the server end it (a kick). */
export interface HeldImapSession {
  /** `performance.now()` when the server closed the connection. */
  closed: Promise<number>;
  /** Lines the server sent after IDLE started (`* BYE …` when kicked). */
  lines: string[];
  close(): void;
}

export async function holdImapSession(port: number, login: string, password: string): Promise<HeldImapSession> {
  const r = await open(port);
  const answer = await imapLoginOn(r, login, password);
  if (!answer.ok) {
    r.socket.destroy();
    throw new Error(`IMAP login refused: ${answer.line}`);
  }
  r.socket.write('a2 IDLE\r\n');
  const idling = await r.next();
  if (!idling?.startsWith('+')) {
    r.socket.destroy();
    throw new Error(`IMAP IDLE refused: ${idling}`);
  }
  return { closed: r.closed, lines: r.lines, close: () => r.socket.destroy() };
}

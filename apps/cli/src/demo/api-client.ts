/** The API's error body (RFC 9457 problem details with a stable `code` and the field at fault). */
export interface Problem {
  status?: number;
  title?: string;
  code?: string;
  detail?: string;
  field?: string;
  errors?: { field?: string; message?: string }[];
  [extension: string]: unknown;
}

/** A call the API refused or could not answer: says which call, and the problem+json it sent back. */
export class ApiCallError extends Error {
  override name = 'ApiCallError';

  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number | null,
    readonly problem: Problem | null,
    readonly body: string,
  ) {
    super(describeFailure(method, url, status, problem, body));
  }
}

function describeFailure(method: string, url: string, status: number | null, p: Problem | null, body: string): string {
  if (status === null) return `${method} ${url}: no answer (${body})`;
  if (!p) return `${method} ${url} answered ${status}: ${body.slice(0, 500) || '(empty body)'}`;
  const lines = [`${method} ${url} answered ${status} ${p.code ?? ''}: ${p.detail ?? ''}`.trimEnd()];
  for (const e of p.errors ?? []) lines.push(`  ${e.field ?? '?'}: ${e.message ?? ''}`);
  if (!p.errors?.length && p.field) lines.push(`  field: ${p.field}`);
  lines.push(`  problem+json: ${JSON.stringify(p)}`);
  return lines.join('\n');
}

export type Conditional<T> = { changed: true; body: T; etag: string | null } | { changed: false };

/**
 * A thin fetch client for /api/v1 with one API key (a person or system in the story holds one key each).
 * Every non-2xx answer throws an ApiCallError carrying the problem+json.
 */
export class ApiClient {
  constructor(
    readonly origin: string,
    private readonly key: string,
    readonly base = '/api/v1',
    /** A call (answer and body) taking longer fails as unanswered; none by default. Never applied to streams. */
    private readonly timeoutMs?: number,
  ) {}

  /** The same API as another caller (another role's key). */
  as(key: string): ApiClient {
    return new ApiClient(this.origin, key, this.base, this.timeoutMs);
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PATCH', path, body);
  }

  /** Any method with an optional JSON body (the `reopen` CLI maps its commands to such calls). */
  call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.json<T>(method, path, body, headers);
  }

  /**
   * Opens a text/event-stream (Last-Event-ID resumes after the last event seen); a refusal throws like any call.
   * The caller reads the body and aborts `signal` to close it.
   */
  async stream(path: string, lastEventId: string | undefined, signal: AbortSignal): Promise<Response> {
    const res = await this.send('GET', path, {
      headers: { Accept: 'text/event-stream', ...(lastEventId && { 'Last-Event-ID': lastEventId }) },
      signal,
    });
    if (!res.ok) await this.read(res, 'GET', path);
    return res;
  }

  /** GET with If-None-Match: a 304 means the view did not change (dashboards poll this way). */
  async getIfChanged<T>(path: string, etag: string | null): Promise<Conditional<T>> {
    const res = await this.send('GET', path, { headers: etag ? { 'If-None-Match': etag } : {} });
    if (res.status === 304) return { changed: false };
    return { changed: true, body: (await this.read(res, 'GET', path)) as T, etag: res.headers.get('etag') };
  }

  /** Streams a CSV body (chunked, never held in memory whole). */
  async postCsv<T>(path: string, chunks: AsyncIterable<Uint8Array>): Promise<T> {
    const res = await this.send('POST', path, {
      headers: { 'Content-Type': 'text/csv; charset=utf-8' },
      body: chunks,
      duplex: 'half',
    });
    return (await this.read(res, 'POST', path)) as T;
  }

  private async json<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const res = await this.send(method, path, {
      headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await this.read(res, method, path)) as T;
  }

  private async send(method: string, path: string, init: RequestInit): Promise<Response> {
    const url = `${this.origin}${this.base}${path}`;
    try {
      return await fetch(url, {
        ...init,
        signal: init.signal ?? (this.timeoutMs === undefined ? undefined : AbortSignal.timeout(this.timeoutMs)),
        method,
        headers: { Accept: 'application/json', Authorization: `Bearer ${this.key}`, ...init.headers },
      });
    } catch (err) {
      throw new ApiCallError(method, url, null, null, this.noAnswer(err));
    }
  }

  /** Why a call got no answer, in words: the timeout said in seconds (not "the operation was aborted"), or the cause. */
  private noAnswer(err: unknown): string {
    if ((err as Error).name === 'TimeoutError' && this.timeoutMs !== undefined)
      return `no answer within ${this.timeoutMs / 1000} s`;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? (err as Error).message;
  }

  private async read(res: Response, method: string, path: string): Promise<unknown> {
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      // The connection dropped or the timeout struck while the body was arriving: no answer either.
      throw new ApiCallError(method, `${this.base}${path}`, null, null, this.noAnswer(err));
    }
    if (res.ok) {
      if (!text) return null;
      try {
        return JSON.parse(text);
      } catch {
        // A 2xx that is not JSON is not the API: a proxy's login page, a web server at the wrong URL. Nothing of the
        // API answered, so it is said as such (not as a bug of the client), with what did answer.
        const type = res.headers.get('content-type') ?? 'no content type';
        throw new ApiCallError(
          method,
          `${this.origin}${this.base}${path}`,
          null,
          null,
          `answered ${res.status} with ${type}, not the API's JSON (${JSON.stringify(text.slice(0, 80))}): ` +
            `is this the API's URL?`,
        );
      }
    }
    let problem: Problem | null = null;
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      // not JSON: the raw text is reported
    }
    throw new ApiCallError(method, `${this.base}${path}`, res.status, problem, text);
  }
}

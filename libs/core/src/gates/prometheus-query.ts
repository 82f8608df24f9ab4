import type { QueryResult } from '@app/domain';

export interface PrometheusQueryOptions {
  /** The Prometheus-compatible HTTP API's base URL (e.g. http://prometheus:9090), from PROMETHEUS_URL. */
  baseUrl: string;
  /** The whole exchange; past it the measurement is an error. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Answers larger than this are not a single number: an error, not a parse of megabytes. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * One instant query (`GET /api/v1/query?query=…`, Prometheus' HTTP API) read as a gate's measurement: a scalar or a
 * vector of exactly one sample is its value (NaN and ±Inf included: the analysis reads them, analysis.ts measure); an
 * empty vector is `empty`; anything else (several series, a matrix, an error answer, a timeout, an unreachable server)
 * is an `error` whose message says which. Never throws. Node's fetch (undici): one GET needs nothing more.
 */
export async function queryPrometheus(query: string, options: PrometheusQueryOptions): Promise<QueryResult> {
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
    : AbortSignal.timeout(options.timeoutMs);
  try {
    const { base, authorization } = withoutCredentials(options.baseUrl);
    const url = `${base.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (authorization) headers.authorization = authorization;
    const res = await fetch(url, { headers, signal });
    const text = await readCapped(res);
    return text === null
      ? { kind: 'error', message: `HTTP ${res.status}, an answer over ${MAX_BODY_BYTES} bytes` }
      : readAnswer(res.status, text);
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string }; message?: string };
    if (e.name === 'TimeoutError') return { kind: 'error', message: `no answer within ${options.timeoutMs} ms` };
    return { kind: 'error', message: `unreachable (${e.cause?.code ?? e.message ?? 'fetch failed'})` };
  }
}

/**
 * PROMETHEUS_URL's `user:password@` (a Prometheus behind basic auth) as an Authorization header, and the address
 * without it: fetch refuses a URL with credentials, and its error would carry them into a measurement's reason.
 */
function withoutCredentials(baseUrl: string): { base: string; authorization?: string } {
  const url = new URL(baseUrl);
  if (!url.username && !url.password) return { base: baseUrl };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { base: url.href, authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

/** The API's JSON answer (https://prometheus.io/docs/prometheus/latest/querying/api/) as a measurement. */
function readAnswer(status: number, text: string): QueryResult {
  let body: {
    status?: unknown;
    errorType?: unknown;
    error?: unknown;
    data?: { resultType?: unknown; result?: unknown };
  };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { kind: 'error', message: `HTTP ${status}, not a Prometheus answer` };
  }
  if (body.status !== 'success') {
    const why = typeof body.error === 'string' ? body.error.slice(0, 200) : 'no error given';
    const type = typeof body.errorType === 'string' ? body.errorType : 'error';
    return { kind: 'error', message: `HTTP ${status} ${type}: ${why}` };
  }
  const { resultType, result } = body.data ?? {};
  if (resultType === 'scalar') return valueOf(result);
  if (resultType !== 'vector' || !Array.isArray(result)) {
    return {
      kind: 'error',
      message: `the query returned a ${String(resultType)}, not one number (a scalar or vector)`,
    };
  }
  if (result.length === 0) return { kind: 'empty' };
  if (result.length > 1) {
    return { kind: 'error', message: `the query returned ${result.length} series; aggregate it to one (sum, max)` };
  }
  return valueOf((result[0] as { value?: unknown }).value);
}

/** `[<unix time>, "<number>"]`: Prometheus sends numbers as strings ("NaN", "+Inf" included). */
function valueOf(sample: unknown): QueryResult {
  const raw: unknown = Array.isArray(sample) ? (sample as unknown[])[1] : undefined;
  if (typeof raw !== 'string') return { kind: 'error', message: 'a sample without a value' };
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
  return raw.trim() === '' || (Number.isNaN(value) && raw !== 'NaN')
    ? { kind: 'error', message: `a sample value that is not a number: ${raw.slice(0, 40)}` }
    : { kind: 'value', value };
}

/** The body as text, or null past MAX_BODY_BYTES (the rest is not read). */
async function readCapped(res: Response): Promise<string | null> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) return null; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

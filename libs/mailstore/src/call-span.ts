import { inSpan, type Span, SpanKind, SpanStatusCode, tracingOn } from '@app/tracing';
import type { Outcome } from './outcome';

/**
 * One exchange with the mail server as an OpenTelemetry client span (docs/observability.md, "Tracing"), whatever the
 * driver: the HTTP contract's request, a native driver's SQL transaction or LDAP exchange. The span carries the outcome
 * (spanOutcome) and is an error when the outcome is not `ok`. With tracing off, `call(false)` and nothing else;
 * `traced` tells the call whether a span is active (the HTTP client then sends its context along).
 */
export function callSpan<T>(
  name: string,
  attributes: Record<string, string | number>,
  call: (traced: boolean) => Promise<Outcome<T>>,
): Promise<Outcome<T>> {
  if (!tracingOn()) return call(false);
  return inSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const outcome = await call(span !== undefined);
    if (span) spanOutcome(span, outcome, 'http.request.method' in attributes);
    return outcome;
  });
}

/**
 * `reopen.outcome` (the kind, and the problem code when there is one) on a call's span, the HTTP status when the call
 * was HTTP (`http`), and the error status for anything but `ok`.
 */
export function spanOutcome(
  span: Span,
  outcome: { kind: string; status?: number; code?: string },
  http: boolean,
): void {
  if (http && outcome.status !== undefined) span.setAttribute('http.response.status_code', outcome.status);
  const code = outcome.code === undefined ? outcome.kind : `${outcome.kind}:${outcome.code}`;
  span.setAttribute('reopen.outcome', code);
  if (outcome.kind !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

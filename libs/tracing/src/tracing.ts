import {
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';

/**
 * OpenTelemetry traces (docs/observability.md, "Tracing"): an API command, the BullMQ job it queues and the batch calls
 * to the mailstore, in one trace. Off by default. When off, nothing of the SDK is loaded and every helper here is one
 * branch on `tracer === undefined` around the traced work: no span, no context, no header.
 *
 * Only @opentelemetry/api is imported here (a small, dependency-free facade); startTracing (sdk.ts) loads the SDK.
 */
let tracer: Tracer | undefined;

/** Set by startTracing, cleared by its shutdown. */
export function useTracer(t: Tracer | undefined): void {
  tracer = t;
}

export function tracingOn(): boolean {
  return tracer !== undefined;
}

/** W3C trace context (`traceparent`, and `tracestate` when there is one) as it travels in a job's data or a header. */
export type TraceCarrier = Record<string, string>;

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The remote parent (a job's carrier); default: the active span. */
  parent?: TraceCarrier;
}

/**
 * Runs `fn` inside a new span (made active, so spans started below are its children), ended when `fn` settles; an
 * exception marks it as an error and is thrown on. With tracing off, `fn(undefined)` and nothing else.
 */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (tracer === undefined) return fn(undefined);
  const parent = options.parent ? propagation.extract(context.active(), options.parent) : context.active();
  return tracer.startActiveSpan(name, { kind: options.kind, attributes: options.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * A span that the caller ends (an HTTP request ends on the response's 'finish'), and the context to run the rest of the
 * request in. Undefined with tracing off.
 */
export function startSpan(name: string, options: SpanOptions): { span: Span; run<T>(fn: () => T): T } | undefined {
  if (tracer === undefined) return undefined;
  const parent = options.parent ? propagation.extract(context.active(), options.parent) : context.active();
  const span = tracer.startSpan(name, { kind: options.kind, attributes: options.attributes }, parent);
  const ctx: Context = trace.setSpan(parent, span);
  return { span, run: (fn) => context.with(ctx, fn) };
}

/** The active span's context to send along (a job's data, a request's headers); undefined with tracing off. */
export function currentTraceCarrier(): TraceCarrier | undefined {
  if (tracer === undefined) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent === undefined ? undefined : carrier;
}

export { SpanKind, SpanStatusCode };
export type { Span };

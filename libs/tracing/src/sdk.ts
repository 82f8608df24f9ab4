import { trace } from '@opentelemetry/api';
import type { OTLPTraceExporter as Exporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { resourceFromAttributes as ResourceFrom } from '@opentelemetry/resources';
import type { NodeTracerProvider as Provider, BatchSpanProcessor as Processor } from '@opentelemetry/sdk-trace-node';
import { useTracer } from './tracing';
import { tracingEnabled, type TracingEnvironment } from './tracing-settings';

export interface TracingHandle {
  /** Where spans go (for the start line; may carry credentials: log it through libs/logging's sanitizeUrl). */
  endpoint: string;
  /** Exports the spans still buffered, then stops (at shutdown, before exit). */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing when the environment asks for it (tracingEnabled), else does nothing and loads nothing. The SDK
 * (@opentelemetry/sdk-trace-node, its W3C propagator and AsyncLocalStorage context manager) batches spans and the OTLP
 * exporter (@opentelemetry/exporter-trace-otlp-http, OTLP/HTTP with JSON bodies) posts them to
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces; it reads the standard OTEL_*
 * variables itself (headers, timeout, OTEL_BSP_* batching, OTEL_TRACES_SAMPLER).
 */
export function startTracing(serviceName: string, env: TracingEnvironment): TracingHandle | undefined {
  if (!tracingEnabled(env)) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on: nil cost when off */
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node') as {
    NodeTracerProvider: typeof Provider;
    BatchSpanProcessor: typeof Processor;
  };
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as {
    OTLPTraceExporter: typeof Exporter;
  };
  const { resourceFromAttributes } = require('@opentelemetry/resources') as {
    resourceFromAttributes: typeof ResourceFrom;
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  useTracer(trace.getTracer('reopen-access'));
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '') ?? 'http://localhost:4318';
  return {
    endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base}/v1/traces`,
    shutdown: async () => {
      useTracer(undefined);
      await provider.shutdown();
    },
  };
}

/** The standard OpenTelemetry variables that decide whether tracing is on (libs/config validates them at boot). */
export interface TracingEnvironment {
  OTEL_SDK_DISABLED?: string;
  OTEL_TRACES_EXPORTER?: string;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_SERVICE_NAME?: string;
}

/**
 * Off by default, unlike OpenTelemetry's own default of `otlp`: a service that posts spans to localhost:4318 unasked
 * would fill its logs with export errors. On with `OTEL_TRACES_EXPORTER=otlp` (to the default endpoint, or the one
 * set), or when an OTLP endpoint is set and the exporter is not `none`; `OTEL_SDK_DISABLED=true` wins over both.
 */
export function tracingEnabled(env: TracingEnvironment): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER === 'none') return false;
  if (env.OTEL_TRACES_EXPORTER === 'otlp') return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

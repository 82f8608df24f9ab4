// OpenTelemetry tracing, off by default: the helpers the traced code calls, and the SDK's start (docs/observability.md).
export * from './tracing';
export * from './tracing-settings';
export * from './sdk';

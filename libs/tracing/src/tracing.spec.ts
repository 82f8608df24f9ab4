import { currentTraceCarrier, inSpan, startSpan, tracingOn } from './tracing';
import { startTracing } from './sdk';
import { tracingEnabled } from './tracing-settings';

describe('tracing settings', () => {
  it('is off unless asked for, and OTEL_SDK_DISABLED or the exporter `none` win', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ OTEL_SERVICE_NAME: 'x' })).toBe(false);
    expect(tracingEnabled({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingEnabled({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
    expect(tracingEnabled({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });
});

describe('tracing off', () => {
  it('starts nothing, and the helpers only run the work', async () => {
    expect(startTracing('reopen-api', {})).toBeUndefined();
    expect(tracingOn()).toBe(false);
    const seen: unknown[] = [];
    await expect(
      inSpan('x', {}, async (span) => {
        seen.push(span, currentTraceCarrier());
        return 7;
      }),
    ).resolves.toBe(7);
    expect(seen).toEqual([undefined, undefined]);
    expect(startSpan('y', {})).toBeUndefined();
  });
});

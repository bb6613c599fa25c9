import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export type TracingOptions = {
  serviceName: string;
  serviceVersion?: string;
  /** OTLP/HTTP base URL (spans go to `<endpoint>/v1/traces`); ignored when `spanProcessor` is given. */
  endpoint?: string;
  /** Tests: e.g. a SimpleSpanProcessor over the SDK's InMemorySpanExporter. */
  spanProcessor?: SpanProcessor;
};

/** Paths that are polled all day and say nothing about a user's request: no spans for them. */
const UNTRACED = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * The OpenTelemetry Node SDK with the http, express and pg instrumentations. It must start before express,
 * http and pg are loaded (src/infrastructure/tracing/instrument.ts is the first import of main.ts), since the
 * instrumentations patch those modules as they are required. Request and response headers, bodies, SQL
 * parameters and query strings are not recorded: they can carry passwords and tokens.
 */
export const startTracing = (options: TracingOptions): NodeSDK => {
  const exporter = (): SpanExporter =>
    new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/+$/, '')}/v1/traces` });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
    spanProcessors: [options.spanProcessor ?? new BatchSpanProcessor(exporter())],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED.has((req.url ?? '').split('?')[0] ?? ''),
        // The URL's query string can carry a token (an SSE client's access token, a link's token).
        requestHook: (span, req) => {
          const url = 'url' in req ? req.url : undefined;
          if (typeof url === 'string' && url.includes('?')) span.setAttribute('url.query', '[redacted]');
        },
      }),
      new ExpressInstrumentation(),
      // Statements are parameterised: their text holds no value; parameters are never recorded.
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
    ],
  });
  sdk.start();
  return sdk;
};

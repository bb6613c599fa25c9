/**
 * Starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, before anything else is loaded
 * (main.ts imports this first): the instrumentations patch http, express and pg as they are required.
 * Unset, nothing of the SDK is loaded and `@opentelemetry/api` stays a no-op.
 */
import { loadConfig } from '../config';

const tracing = (() => {
  try {
    return loadConfig().tracing;
  } catch {
    return undefined; // main.ts reports the configuration error itself
  }
})();

let stop: () => Promise<void> = async () => undefined;

if (tracing?.endpoint) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startTracing } = require('./sdk') as typeof import('./sdk');
  const sdk = startTracing({ serviceName: tracing.serviceName, endpoint: tracing.endpoint });
  stop = () => sdk.shutdown().catch(() => undefined);
}

/** Exports the spans still buffered and stops the SDK (graceful shutdown); nothing when tracing is off. */
export const shutdownTracing = (): Promise<void> => stop();

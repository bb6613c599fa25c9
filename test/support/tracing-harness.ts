/**
 * Run as its own process by test/e2e/tracing.test.ts (`node -r tsx/cjs`): the OpenTelemetry SDK starts
 * first with the SDK's in-memory exporter, as src/infrastructure/tracing/instrument.ts starts it for the
 * service, and only then are express, http and pg loaded, so the instrumentations patch them as in
 * production (jest's module system would hide them from the patching). It drives the service in process
 * and writes what happened to HARNESS_OUT: the finished spans, the events written and the answers.
 */
import { writeFileSync } from 'node:fs';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../../src/infrastructure/tracing/sdk';

const exporter = new InMemorySpanExporter();
const sdk = startTracing({ serviceName: 'identity-test', spanProcessor: new SimpleSpanProcessor(exporter) });

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PASSWORD = 'plum-violet-harbour-9417';

const main = async () => {
  // Required only now, after the SDK started (a static import would load express and pg first).
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { startTestApp } = require('./app') as typeof import('./app');
  const { testBackends } = require('./databases') as typeof import('./databases');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const backend = testBackends().find((b) => b.name === process.env.HARNESS_BACKEND);
  if (!backend) throw new Error(`backend ${process.env.HARNESS_BACKEND} is not available`);
  const t = await startTestApp(backend);
  try {
    const email = `traced-${Date.now()}@example.com`;
    // A caller that continues its own trace (W3C traceparent) and names its own request id.
    const registered = await fetch(`${t.url}/v1/auth/register`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${CALLER_TRACE}-00f067aa0ba902b7-01`,
        'x-request-id': 'client-chosen-id',
      },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    await t.mail.waitFor((m) => m.to === email, 15_000);
    // A caller without a trace: the service starts one.
    const login = await fetch(`${t.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'not the password 123' }),
    });
    // A query string can carry a token: it must not reach a span.
    await fetch(`${t.url}/v1/users/me?access_token=secret-in-query`);
    await fetch(`${t.url}/health/ready`);
    await new Promise((r) => setTimeout(r, 200));
    const events = (await t.services.store.readAll({ maxCount: 1000 })).events.map((e) => ({
      type: e.type,
      streamId: e.streamId,
      correlationId: (e.metadata as { correlation_id?: string }).correlation_id,
    }));
    const spans = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      kind: s.kind,
      scope: s.instrumentationScope.name,
      attributes: s.attributes,
    }));
    writeFileSync(
      process.env.HARNESS_OUT!,
      JSON.stringify({
        email,
        password: PASSWORD,
        callerTrace: CALLER_TRACE,
        register: { status: registered.status, requestId: registered.headers.get('x-request-id') },
        login: { status: login.status, requestId: login.headers.get('x-request-id') },
        events,
        spans,
      }),
    );
  } finally {
    await t.close();
    await sdk.shutdown();
  }
};

main().catch((e: unknown) => {
  process.stderr.write(`tracing harness failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

/**
 * OpenTelemetry tracing through the official SDK with its in-memory exporter (test/support/tracing-harness.ts
 * runs the service in a process of its own, SDK first, as main.ts does): a request's server span, the
 * express spans, a span per command with its stream and expected revision, pg spans on PostgreSQL, and the
 * trace id as the request id, the correlation id of the events the request wrote, and on its log lines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testBackends } from '../support/databases';

const REPO = path.resolve(__dirname, '../..');
const HARNESS = path.join(__dirname, '../support/tracing-harness.ts');

type Span = {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  scope: string;
  attributes: Record<string, unknown>;
};
type Result = {
  email: string;
  password: string;
  callerTrace: string;
  register: { status: number; requestId: string };
  login: { status: number; requestId: string };
  events: { type: string; streamId: string; correlationId?: string }[];
  spans: Span[];
};

const runHarness = (backend: string): Promise<{ result: Result; logs: Record<string, unknown>[] }> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'identity-tracing-'));
  const out = path.join(dir, 'result.json');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), HARNESS], {
      cwd: REPO,
      env: { ...process.env, HARNESS_BACKEND: backend, HARNESS_OUT: out, TEST_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`harness exited ${code}:\n${stderr}`);
        const result = JSON.parse(readFileSync(out, 'utf8')) as Result;
        const logs = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({ result, logs });
      } catch (e) {
        reject(e as Error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
};

const SERVER = 1; // SpanKind.SERVER

for (const backend of testBackends()) {
  describe(`tracing on ${backend.name}`, () => {
    let result: Result;
    let logs: Record<string, unknown>[];
    beforeAll(async () => {
      ({ result, logs } = await runHarness(backend.name));
    }, 120_000);

    it('a request continues the caller trace: server span, express spans and a span per command', () => {
      const trace = result.spans.filter((s) => s.traceId === result.callerTrace);
      const server = trace.find((s) => s.kind === SERVER && s.scope.includes('instrumentation-http'));
      expect(server).toBeDefined();
      expect(trace.some((s) => s.scope.includes('instrumentation-express'))).toBe(true);
      const commands = trace.filter((s) => s.name.startsWith('command '));
      const register = commands.find((s) => s.name === 'command RegisterUser');
      expect(register?.attributes).toMatchObject({
        'identity.command': 'RegisterUser',
        'identity.expected_revision': 'no_stream',
        'identity.events': ['UserRegistered', 'EmailVerificationRequested'],
      });
      expect(String(register?.attributes['identity.stream'])).toMatch(/^user-[0-9a-f-]{36}$/);
      // The address reservation is a command of its own, on its own stream.
      expect(commands.some((s) => String(s.attributes['identity.stream']).startsWith('email-'))).toBe(true);
      for (const c of commands) expect(c.attributes['identity.correlation_id']).toBe(result.callerTrace);
    });

    it('the trace id is the request id and the correlation id of every event the request wrote', () => {
      expect(result.register.status).toBe(202);
      expect(result.register.requestId).toBe(result.callerTrace);
      const written = result.events.filter((e) => e.correlationId === result.callerTrace);
      expect(written.map((e) => e.type)).toEqual(expect.arrayContaining(['UserRegistered']));
      // A request that brought no trace gets a new one, and its events carry that one.
      expect(result.login.status).toBe(401);
      expect(result.login.requestId).toMatch(/^[0-9a-f]{32}$/);
      expect(result.login.requestId).not.toBe(result.callerTrace);
      const loginTrace = result.spans.filter((s) => s.traceId === result.login.requestId);
      expect(loginTrace.some((s) => s.kind === SERVER)).toBe(true);
      const loginEvents = result.events.filter((e) => e.correlationId === result.login.requestId);
      expect(loginEvents.map((e) => e.type)).toContain('LoginFailed');
    });

    it('log lines carry the trace id; the caller X-Request-Id stays on the request line', () => {
      const line = logs.find((l) => l.msg === 'request' && l.request_id === result.callerTrace);
      expect(line).toMatchObject({ trace_id: result.callerTrace, client_request_id: 'client-chosen-id' });
      expect(typeof line?.span_id).toBe('string');
    });

    it('pg spans appear on PostgreSQL; no span holds the address, the password or a query string', () => {
      if (backend.name === 'postgres') {
        expect(result.spans.some((s) => s.scope.includes('instrumentation-pg'))).toBe(true);
      }
      const text = JSON.stringify(result.spans);
      expect(text).not.toContain(result.password);
      expect(text).not.toContain(result.email);
      expect(text).not.toContain('secret-in-query');
      // The untraced paths the scraper and the load balancer poll make no spans.
      expect(text).not.toContain('/health/ready');
    });
  });
}

import type { Express } from 'express';
import { apiTables } from '../../src/api';
import { apiDeps } from '../../src/infrastructure/container';
import {
  openApiDocument,
  problemResponseSchema,
  problemsOf,
  routeParity,
  specOf,
  toOpenApiPath,
} from '../../src/api/openapi';
import { PROBLEMS } from '../../src/api/problem';
import { ROUTES } from '../../src/api/routes';
import type { Method, RouteInfo } from '../../src/api/routes/table';
import { expectProblem, registerVerified, sendJson, STRONG_PASSWORD } from '../support/account-flows';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { feedReader, startFeedApp, type Caller } from '../support/feed';
import { checkAnswer, checkUnmatched } from '../support/openapi-check';
import { openApiStructureFailures } from '../support/openapi-structure';
import { PAGE_ROUTES } from '../../src/pages/routes';
import { bearer, postJson, uniqueEmail } from '../support/session-fixtures';

type Layer = {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
};

/**
 * The routes the express app really serves, found by walking its router: what `buildApp` mounts beside
 * `apiTables` (metrics) and anything a router gained without going through a route table.
 */
const mountedRoutes = (app: Express): RouteInfo[] => {
  const walk = (stack: Layer[]): RouteInfo[] =>
    stack.flatMap((layer) => {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        const methods = Object.keys(layer.route.methods).filter((m) => m !== '_all') as Method[];
        return paths.flatMap((path) => methods.map((method) => ({ method, path })));
      }
      if (layer.handle?.stack) {
        // Routers are mounted at the root (app.ts); one mounted below a path would need its prefix here.
        if (!layer.slash) throw new Error('a router is mounted below a path: teach mountedRoutes its prefix');
        return walk(layer.handle.stack);
      }
      return [];
    });
  return walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
};

describe('the OpenAPI document', () => {
  let t: TestApp;
  beforeAll(async () => {
    const [embedded] = testBackends();
    t = await startTestApp(embedded!, { runSubscriptions: false });
  });
  afterAll(() => t.close());

  it('documents every route the app serves: the definitions by construction, nothing mounted besides them', () => {
    const fromTables = apiTables(apiDeps(t.services, t.runtime)).flatMap((table) => table.routes);
    const mounted = mountedRoutes(t.app);
    // The walk sees the tables too: if it stopped finding routes, the parity below would prove nothing.
    expect(mounted.length).toBeGreaterThanOrEqual(fromTables.length);
    expect(mounted).toContainEqual({ method: 'get', path: '/metrics' });
    // The document is built from ROUTES, the app from the same definitions: every one of them is mounted.
    const key = (r: RouteInfo) => `${r.method} ${r.path}`;
    // ... and the hosted pages (src/pages/), defined once in their own list: HTML, not the JSON API.
    expect(new Set(mounted.map(key))).toEqual(new Set([...ROUTES, ...PAGE_ROUTES].map(key)));
    const pages = new Set(PAGE_ROUTES.map(key));
    const api = mounted.filter((r) => !pages.has(key(r)));

    expect(routeParity([...fromTables, ...api], openApiDocument())).toEqual({
      undocumented: [],
      unrouted: [],
    });
  });

  it('the parity check fails both ways: a route without an entry, and an entry without a route', () => {
    const routes: RouteInfo[] = ROUTES.map((s) => ({ method: s.method, path: s.path }));
    expect(routeParity(routes, openApiDocument())).toEqual({ undocumented: [], unrouted: [] });
    const extra: RouteInfo = { method: 'post', path: '/v1/users/me/avatar/:size' };
    expect(routeParity([...routes, extra], openApiDocument()).undocumented).toEqual([
      'POST /v1/users/me/avatar/{size}',
    ]);
    const withoutLogin = routes.filter((r) => r.path !== '/v1/auth/login');
    expect(routeParity(withoutLogin, openApiDocument()).unrouted).toEqual(['POST /v1/auth/login']);
  });

  it('is structurally valid OpenAPI 3.1: paths, parameters, responses, components, every $ref resolves', () => {
    const document = JSON.parse(JSON.stringify(openApiDocument())) as Record<string, unknown>;
    expect(openApiStructureFailures(document)).toEqual([]);
    expect(document.openapi).toBe('3.1.0');
  });

  it('the structural check finds a dangling $ref, an undeclared path parameter and a 3.0 keyword', () => {
    const document = JSON.parse(JSON.stringify(openApiDocument())) as {
      paths: Record<string, Record<string, { parameters?: unknown[]; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    document.paths['/v1/users/me']!.get!.responses['200'] = {
      description: 'x',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Nobody' } } },
    };
    document.paths['/v1/admin/users/{id}']!.get!.parameters = [];
    document.components.schemas.Profile!.nullable = true;
    const failures = openApiStructureFailures(document).join('\n');
    expect(failures).toMatch(/Nobody.* does not resolve/);
    expect(failures).toMatch(/GET \/v1\/admin\/users\/\{id\}: path template \{id\}/);
    expect(failures).toMatch(/Profile: `nullable`/);
  });

  it('has a ProblemDetails schema whose codes are the problem table, and every error is problem+json', () => {
    const document = openApiDocument();
    const problem = document.components?.schemas?.ProblemDetails as {
      properties: { code: { enum: string[] } };
    };
    expect(problem.properties.code.enum).toEqual(Object.keys(PROBLEMS));
    type MediaType = { examples: Record<string, { value: unknown }> };
    type Operation = { responses: Record<string, { content: Record<string, MediaType> }> };
    for (const spec of ROUTES) {
      const op = (document.paths as Record<string, Record<string, Operation>>)[toOpenApiPath(spec.path)]![
        spec.method
      ]!;
      for (const [status, codes] of problemsOf(spec)) {
        const where = `${spec.method} ${spec.path} ${status}`;
        const media = op.responses[String(status)]?.content['application/problem+json'];
        expect({ where, codes: Object.keys(media?.examples ?? {}) }).toEqual({ where, codes });
        // Every example is an answer the checker would accept: status and code agree with the schema.
        for (const { value } of Object.values(media!.examples)) {
          expect({ where, ok: problemResponseSchema(spec, status)!.safeParse(value).success }).toEqual({
            where,
            ok: true,
          });
        }
      }
    }
  });

  it('describes the bearer scheme, Idempotency-Key on POST commands, and the 401 header', () => {
    const document = openApiDocument();
    expect(document.components?.securitySchemes?.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
    const login = paths['/v1/auth/login']!.post! as {
      parameters: { name: string; in: string }[];
      requestBody: { content: Record<string, unknown> };
    };
    expect(login.parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
    );
    expect(Object.keys(login.requestBody.content).sort()).toEqual([
      'application/json',
      'application/x-www-form-urlencoded',
    ]);
    const me = paths['/v1/users/me']!.get! as {
      security: unknown;
      responses: Record<string, { headers?: Record<string, unknown> }>;
    };
    expect(me.security).toEqual([{ bearerAuth: [] }]);
    expect(me.responses['401']!.headers).toHaveProperty('WWW-Authenticate');
    const postCommands = ROUTES.filter((s) => s.method === 'post' && s.path !== '/v1/auth/test-token');
    expect(postCommands.filter((s) => !s.idempotency).map((s) => s.path)).toEqual([]);
    expect(specOf('post', '/v1/auth/change-password')?.problems).toContainEqual({
      code: 'invalid-credentials',
      status: 403,
    });
  });

  it('is served at /openapi.json, and /docs has its own content security policy', async () => {
    const res = await fetch(`${t.url}/openapi.json`);
    const { failures, body } = await checkAnswer(res, 'get', '/openapi.json');
    expect(failures).toEqual([]);
    expect(body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));

    const page = await fetch(`${t.url}/docs`);
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    );
    expect((await checkAnswer(page, 'get', '/docs')).failures).toEqual([]);
    // Only the page itself: the document and the API keep `default-src 'none'`.
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    const script = await fetch(`${t.url}/docs/init.js`);
    expect((await checkAnswer(script, 'get', '/docs/init.js')).failures).toEqual([]);
    expect(script.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']) {
      const asset = await fetch(`${t.url}/docs/assets/${file}`);
      expect({ file, status: asset.status }).toEqual({ file, status: 200 });
      expect((await checkAnswer(asset, 'get', '/docs/assets/:file')).failures).toEqual([]);
    }
    // Files of the package that the page does not use are not served.
    for (const file of ['index.html', 'swagger-initializer.js', 'package.json', '..%2Fpackage.json']) {
      const other = await fetch(`${t.url}/docs/assets/${file}`);
      await expectProblem(other, 404, 'not-found');
    }
  });
});

for (const backend of testBackends()) {
  describe(`API answers match the OpenAPI document (${backend.name})`, () => {
    let t: TestApp;
    let admin: Caller;
    let reader: Caller;

    beforeAll(async () => {
      ({ t, admin } = await startFeedApp(backend));
      reader = await feedReader(t, admin, ['events:read']);
    });
    afterAll(() => t.close());

    const expectDocumented = async (res: Response, method: string, route: string) => {
      const { failures, body } = await checkAnswer(res, method, route);
      expect({ route: `${method.toUpperCase()} ${route} ${res.status}`, failures }).toEqual({
        route: `${method.toUpperCase()} ${route} ${res.status}`,
        failures: [],
      });
      return body;
    };

    it('register 202, login 200 (JSON and form), users/me 200, test-token 200, sessions 200', async () => {
      const email = uniqueEmail('doc');
      const registered = await postJson(t, '/v1/auth/register', { email, password: STRONG_PASSWORD });
      expect(registered.status).toBe(202);
      await expectDocumented(registered, 'post', '/v1/auth/register');

      const account = await registerVerified(t);
      const login = await postJson(t, '/v1/auth/login', { email: account.email, password: account.password });
      expect(login.status).toBe(200);
      const tokens = (await expectDocumented(login, 'post', '/v1/auth/login')) as { access_token: string };
      const form = await fetch(`${t.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          username: account.email,
          password: account.password,
        }),
      });
      expect(form.status).toBe(200);
      await expectDocumented(form, 'post', '/v1/auth/login');

      const me = await fetch(`${t.url}/v1/users/me`, { headers: bearer(tokens.access_token) });
      expect(me.status).toBe(200);
      await expectDocumented(me, 'get', '/v1/users/me');
      const check = await fetch(`${t.url}/v1/auth/test-token`, {
        method: 'POST',
        headers: bearer(tokens.access_token),
      });
      await expectDocumented(check, 'post', '/v1/auth/test-token');
      const sessions = await fetch(`${t.url}/v1/users/me/sessions`, { headers: bearer(tokens.access_token) });
      await expectDocumented(sessions, 'get', '/v1/users/me/sessions');
    });

    it('problems: 400 validation, 401, 403, 404, 405, 415 and an unknown route', async () => {
      const invalid = await postJson(t, '/v1/auth/register', {
        email: uniqueEmail(),
        password: 'x',
        role: 'admin',
      });
      expect(invalid.status).toBe(400);
      const problem = (await expectDocumented(invalid, 'post', '/v1/auth/register')) as { code: string };
      expect(problem.code).toBe('validation-failed');

      const anonymous = await fetch(`${t.url}/v1/users/me`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectDocumented(anonymous, 'get', '/v1/users/me');

      const notAdmin = await fetch(`${t.url}/v1/admin/users`, { headers: reader.auth });
      expect(notAdmin.status).toBe(403);
      await expectDocumented(notAdmin, 'get', '/v1/admin/users');

      const nobody = await fetch(`${t.url}/v1/admin/users/0b6c3f3e-8d7a-4a53-9f3e-1f0b5d3c2a10`, {
        headers: admin.auth,
      });
      expect(nobody.status).toBe(404);
      await expectDocumented(nobody, 'get', '/v1/admin/users/:id');

      const wrongType = await fetch(`${t.url}/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'refresh_token=x',
      });
      expect(wrongType.status).toBe(415);
      await expectDocumented(wrongType, 'post', '/v1/auth/refresh');

      const wrongMethod = await sendJson(t, 'DELETE', '/v1/auth/login');
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');
      expect((await checkUnmatched(wrongMethod)).failures).toEqual([]);

      const unknown = await fetch(`${t.url}/v1/no-such-thing`);
      expect(unknown.status).toBe(404);
      expect((await checkUnmatched(unknown)).failures).toEqual([]);
    });

    it('admin reads: users list, one user, its history; the event feed and its schema', async () => {
      const list = await fetch(`${t.url}/v1/admin/users?limit=5`, { headers: admin.auth });
      expect(list.status).toBe(200);
      const page = (await expectDocumented(list, 'get', '/v1/admin/users')) as { users: unknown[] };
      expect(page.users.length).toBeGreaterThan(0);

      const user = await fetch(`${t.url}/v1/admin/users/${reader.userId}`, { headers: admin.auth });
      await expectDocumented(user, 'get', '/v1/admin/users/:id');
      const history = await fetch(`${t.url}/v1/admin/users/${reader.userId}/events?limit=3`, {
        headers: admin.auth,
      });
      const events = (await expectDocumented(history, 'get', '/v1/admin/users/:id/events')) as {
        events: unknown[];
      };
      expect(events.events.length).toBeGreaterThan(0);

      const feed = await fetch(`${t.url}/v1/events?limit=20`, { headers: reader.auth });
      expect(feed.status).toBe(200);
      const feedPage = (await expectDocumented(feed, 'get', '/v1/events')) as { events: unknown[] };
      expect(feedPage.events.length).toBeGreaterThan(0);
      const badLimit = await fetch(`${t.url}/v1/events?limit=0`, { headers: reader.auth });
      expect(badLimit.status).toBe(400);
      await expectDocumented(badLimit, 'get', '/v1/events');
      await expectDocumented(await fetch(`${t.url}/v1/events/schema`), 'get', '/v1/events/schema');
    });

    it('operations and discovery: health, metrics, JWKS, discovery document', async () => {
      for (const route of ['/health/live', '/health/ready', '/metrics', '/.well-known/jwks.json']) {
        await expectDocumented(await fetch(`${t.url}${route}`), 'get', route);
      }
      const discovery = '/.well-known/openid-configuration';
      await expectDocumented(await fetch(`${t.url}${discovery}`), 'get', discovery);
    });

    it('the check rejects an answer that the document does not describe', async () => {
      const wrongShape = new Response(JSON.stringify({ status: 'accepted' }), {
        status: 202,
        headers: { 'content-type': 'application/json' },
      });
      expect((await checkAnswer(wrongShape, 'post', '/v1/auth/register')).failures).toEqual([
        expect.stringContaining('body status'),
      ]);
      const undocumentedStatus = new Response('{}', {
        status: 418,
        headers: { 'content-type': 'application/json' },
      });
      expect((await checkAnswer(undocumentedStatus, 'get', '/v1/users/me')).failures).toEqual([
        expect.stringContaining('does not list'),
      ]);
      const foreignCode = new Response(
        JSON.stringify({ type: 'x', title: 'x', status: 401, code: 'invalid-credentials' }),
        { status: 401, headers: { 'content-type': 'application/problem+json' } },
      );
      expect((await checkAnswer(foreignCode, 'get', '/v1/users/me')).failures).toEqual([
        expect.stringContaining('body code'),
      ]);
    });
  });
}

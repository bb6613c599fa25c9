/**
 * Property-based fuzzing of the whole HTTP surface, driven by the service's own OpenAPI document (read from
 * GET /openapi.json, so a new operation is fuzzed without touching this file). Every operation gets bodies
 * generated from its schema (valid-ish) and garbage, query strings, headers, content types, encodings,
 * path parameters and methods, on the embedded store, with a valid access token of a plain user, of an
 * admin or of a feed reader for a share of the requests. Whatever it sends:
 *
 * - never a 5xx;
 * - every error is `application/problem+json` with a code from the contract's table and its own status;
 * - the security headers are on every answer;
 * - nothing sent as a secret comes back in a response body, then or later: password and token members,
 *   query values, the Authorization, Cookie, Idempotency-Key and Last-Event-ID headers. (Addresses, names
 *   and reasons are shown back by design, and so is X-Request-Id, as the correlation id of events.)
 *
 * A bounded, seeded run by default; `FUZZ_RUNS=<runs per operation>` (and `FUZZ_SEED=<n>`) for a longer one:
 *
 *   FUZZ_RUNS=500 npx jest test/api/fuzz.test.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { createHttpServer, serverTimeouts } from '../../src/api/app';
import { PROBLEM_TYPE_BASE } from '../../src/api/problem';
import { STRONG_PASSWORD } from '../support/account-flows';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { bearer, createAccount, loginAs, sessionIdOf } from '../support/session-fixtures';
import type { Role } from '../../src/domain/user';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_417);

/** CONTRACT.md "General rules", the error-code table: the only codes a client may ever see. */
const CONTRACT_CODES = new Set([
  'malformed-body',
  'validation-failed',
  'unsupported-media-type',
  'payload-too-large',
  'weak-password',
  'invalid-credentials',
  'email-not-verified',
  'invalid-token',
  'invalid-refresh-token',
  'invalid-or-expired-token',
  'forbidden',
  'not-found',
  'method-not-allowed',
  'conflict',
  'idempotency-key-reused',
  'rate-limited',
  'unavailable',
]);

/** Every secret the fuzzer sends starts with this; the service never makes the string up itself. */
const MARK = 'fzQ7sEcr';
/** Members whose values are secrets: they must never come back. */
const SECRET_MEMBER = /pass|token|secret|code/i;

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
};
type Parameter = { name: string; in: 'query' | 'path' | 'header'; required?: boolean; schema?: Schema };
type Operation = {
  method: string;
  path: string;
  parameters: Parameter[];
  bodies: Record<string, Schema>;
  secured: boolean;
  /** `x-required-roles`: who the well-formed requests mostly come from. */
  roles: string[];
};
type Document = {
  paths: Record<
    string,
    Record<
      string,
      Omit<Operation, 'method' | 'path' | 'bodies' | 'secured' | 'roles'> & {
        requestBody?: { content: Record<string, { schema: Schema }> };
        security?: unknown[];
        'x-required-roles'?: string[];
      }
    >
  >;
  components?: { schemas?: Record<string, Schema> };
};

/** What earlier answers (and mails) showed, by kind, for later requests to use. */
type PoolKind = 'id' | 'position' | 'cursor' | 'email' | 'account' | 'token';
/** A value decided when the request is sent: the n-th of its kind seen so far. */
type Observed = { observed: number; kind: PoolKind };
type Piece = string | Observed;

type Auth = 'none' | 'user' | 'admin' | 'reader' | 'garbage' | 'secret' | 'forged-jwt';

type BodySpec =
  | { kind: 'none' }
  | {
      kind: 'bytes';
      contentType: string | undefined;
      encoding: 'identity' | 'gzip' | 'deflate' | 'br' | 'truncated-gzip' | 'garbage-br' | 'unknown';
      chunked: boolean;
      payload: string | Buffer;
    };

type FuzzRequest = {
  method: string;
  path: Piece[];
  query: [string, Piece][];
  headers: [string, Piece][];
  auth: Auth;
  body: BodySpec;
};

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string } | { lost: string };

// --- generators ---------------------------------------------------------------------------------------

const ALNUM = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
const secret = fc
  .string({ unit: fc.constantFrom(...ALNUM), minLength: 6, maxLength: 40 })
  .map((s) => `${MARK}${s}`);

/** What Node lets a client put in a header value (lib/_http_common.js checkInvalidHeaderChar). */
const HEADER_CHARS = [
  '\t',
  ...Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)),
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0xe0 + i)),
];
const headerText = fc.string({ unit: fc.constantFrom(...HEADER_CHARS), maxLength: 300 }).map((s) => s.trim());

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  'a\udfffb',
  '\u202e',
  '%',
  '%ZZ',
  '%E0%A4%A',
  '../..',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '9'.repeat(40),
  "' or 1=1 --",
  '{"$ne":null}',
  '<script>',
  'x'.repeat(5000),
];

const anyString = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom(...NASTY_STRINGS),
);

const garbage: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  anyString,
  fc.constantFrom(null, true, 0, -1, 2 ** 53 + 1, 1e308, [], {}),
  fc.constant({ __proto__: { admin: true } }),
  fc
    .integer({ min: 1, max: 3000 })
    .map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown),
);

const observed = (kind: PoolKind) => fc.nat().map((n): Observed => ({ observed: n, kind }));
/** The same inside a body, which is text by the time it is built: `build` puts the value in. */
const observedText = (kind: PoolKind) => fc.nat().map((n) => `\u00ab${kind}:${n}\u00bb`);

const positionLike = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{16}-[0-9a-f]{16}$/),
  fc.constantFrom(
    '0000000000000000-0000000000000000',
    '7fffffffffffffff-7fffffffffffffff',
    '0000000000000001-ffffffffffffffff',
    'ffffffffffffffff-ffffffffffffffff',
    '8000000000000000-0000000000000000',
  ),
);

const cursorLike = fc.oneof(
  fc.string({ unit: fc.constantFrom(...ALNUM, '-', '_'), maxLength: 60 }),
  fc
    .tuple(fc.date({ noInvalidDate: true }), fc.uuid())
    .map(([d, id]) => Buffer.from(`${d.toISOString()}|${id}`).toString('base64url')),
  fc.nat().map((r) => Buffer.from(`r${r}`).toString('base64url')),
  fc.constantFrom(
    Buffer.from('r999999999999999').toString('base64url'),
    Buffer.from('r-1').toString('base64url'),
  ),
);

const resolveRef = (doc: Document, schema: Schema): Schema => {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/components/schemas/', '');
  return resolveRef(doc, doc.components?.schemas?.[name] ?? {});
};

/**
 * Two kinds of request per operation: well-formed ones, which fit the document everywhere (so they get
 * past parsing, validation and authorisation into the handlers), and garbled ones, with near misses and
 * garbage at any level. `wellFormed` chooses.
 */
type Mode = { wellFormed: boolean };

const printable = (min: number, max: number) =>
  fc.string({
    unit: fc.constantFrom(...ALNUM, ' ', '-', '.', '\u00e9', '\u{1F600}'),
    minLength: min,
    maxLength: max,
  });

const simpleEmail = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 1, maxLength: 12 }),
    fc.constantFrom('example.com', 'Example.ORG'),
  )
  .map(([local, domain]) => `${local}@${domain}`);

/** A value that fits the schema (with near misses unless well-formed), for the member called `name`. */
const fromSchema = (
  doc: Document,
  raw: Schema,
  name: string,
  mode: Mode,
  depth = 0,
): fc.Arbitrary<unknown> => {
  const schema = resolveRef(doc, raw);
  const nearMiss = depth > 3 ? fc.constant(null) : garbage;
  const fit = (arb: fc.Arbitrary<unknown>) =>
    mode.wellFormed ? arb : fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: nearMiss });
  if (schema.const !== undefined) return fit(fc.constant(schema.const));
  if (schema.enum) return fit(fc.constantFrom(...schema.enum));
  const alternatives = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (alternatives?.length)
    return fc.oneof(...alternatives.map((s) => fromSchema(doc, s, name, mode, depth + 1)));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : ['string'];
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'null':
          return fc.constant(null);
        case 'boolean':
          return fit(fc.boolean());
        case 'integer':
        case 'number':
          return fit(fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1_000_000 }));
        case 'array':
          return fit(fc.array(fromSchema(doc, schema.items ?? {}, name, mode, depth + 1), { maxLength: 4 }));
        case 'object': {
          const props = schema.properties ?? {};
          const model = Object.fromEntries(
            Object.entries(props).map(([key, s]) => [key, fromSchema(doc, s, key, mode, depth + 1)]),
          );
          const record = fc.record(model, { requiredKeys: schema.required ?? [] }) as fc.Arbitrary<
            Record<string, unknown>
          >;
          if (mode.wellFormed) {
            // The credentials of an account made for the fuzzer, so that logins succeed and go on to
            // sessions and refresh tokens (independent members would almost never pair up).
            const login = 'email' in props ? 'email' : 'username' in props ? 'username' : undefined;
            if (!login || !('password' in props)) return record;
            const credentials = fc.tuple(observedText('account'), record).map(([address, rest]) => ({
              ...rest,
              [login]: address,
              password: STRONG_PASSWORD,
            }));
            return fc.oneof(record, credentials);
          }
          // Now and then a member the schema does not know, or a required one missing.
          const extra = fc.option(
            fc.tuple(fc.constantFrom('extra', 'role', 'admin', 'id', '__proto__'), garbage),
            {
              freq: 4,
            },
          );
          const drop = fc.option(fc.constantFrom('-', ...(schema.required ?? [])), { freq: 6 });
          return fit(
            fc.tuple(record, extra, drop).map(([value, more, missing]) => {
              const out: Record<string, unknown> = { ...value };
              if (more) Object.defineProperty(out, more[0], { value: more[1], enumerable: true });
              if (missing) delete out[missing];
              return out;
            }),
          );
        }
        default:
          return fit(stringFor(schema, name, mode));
      }
    }),
  );
};

const stringFor = (schema: Schema, name: string, mode: Mode): fc.Arbitrary<string> => {
  const max = Math.min(schema.maxLength ?? 64, 400);
  const min = schema.minLength ?? 0;
  const named: fc.Arbitrary<string>[] = [];
  if (SECRET_MEMBER.test(name)) named.push(secret);
  if (/token/.test(name)) named.push(observedText('token'), observedText('token'));
  if (schema.format === 'uuid') named.push(fc.uuid());
  if (schema.format === 'email' || /email/.test(name) || name === 'username') {
    named.push(
      simpleEmail,
      simpleEmail.map((e) => ` ${e.toUpperCase()} `),
    );
  }
  if (/password/.test(name))
    named.push(fc.constant(STRONG_PASSWORD), fc.constant(STRONG_PASSWORD), printable(12, 64));
  if (name === 'username' || name === 'reason')
    named.push(printable(1, 64).filter((v) => v.trim().length > 0));
  if (schema.pattern) {
    try {
      named.push(fc.stringMatching(new RegExp(schema.pattern)));
    } catch {
      /* a pattern JavaScript cannot compile is the document's problem, checked elsewhere */
    }
  }
  const bounded = printable(Math.max(min, 1), Math.max(min, Math.min(max, 64)));
  if (mode.wellFormed) return named.length ? fc.oneof(...named) : bounded;
  return fc.oneof(anyString, fc.string({ minLength: min, maxLength: max }), ...named);
};

/** A query or header value for parameter `p`: fitting, or (garbled) out of range, garbage, a secret. */
const parameterValue = (doc: Document, p: Parameter, mode: Mode): fc.Arbitrary<Piece> => {
  const schema = resolveRef(doc, p.schema ?? {});
  const fitting = fromSchema(doc, schema, p.name, mode).map((v) =>
    typeof v === 'string' ? v : (JSON.stringify(v) ?? ''),
  );
  const options: fc.WeightedArbitrary<Piece>[] = [{ weight: 4, arbitrary: fitting }];
  if (!mode.wellFormed) options.push({ weight: 2, arbitrary: anyString }, { weight: 1, arbitrary: secret });
  if (/after|position|as_of|last-event-id/i.test(p.name)) {
    // An in-range position the store has not reached makes min_position wait 2 s: mostly real ones.
    options.push({ weight: 6, arbitrary: observed('position') }, { weight: 1, arbitrary: positionLike });
    if (p.name === 'as_of') {
      options.push({ weight: 2, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) });
    }
  }
  if (/cursor/.test(p.name)) {
    options.push({ weight: 6, arbitrary: observed('cursor') }, { weight: 2, arbitrary: cursorLike });
  }
  if (/email/.test(p.name)) options.push({ weight: 3, arbitrary: observed('email') });
  if (/limit/.test(p.name)) {
    options.push({
      weight: 3,
      arbitrary: fc.integer(mode.wellFormed ? { min: 1, max: 200 } : { min: -5, max: 100_000 }).map(String),
    });
  }
  if (/types/.test(p.name)) {
    options.push({
      weight: 4,
      arbitrary: fc.constantFrom('User', 'Session', 'UserRegistered,Login', 'Role'),
    });
  }
  if (/idempotency/i.test(p.name))
    options.push({ weight: 4, arbitrary: fc.oneof(fc.uuid(), fc.constantFrom('k1', 'k2')) });
  return fc.oneof(...options);
};

const pathSegment = (doc: Document, p: Parameter, mode: Mode): fc.Arbitrary<Piece> => {
  const schema = resolveRef(doc, p.schema ?? {});
  const known = schema.enum ? fc.constantFrom(...(schema.enum as string[])) : observed('id');
  if (mode.wellFormed) return fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: fc.uuid() });
  return fc.oneof(
    { weight: 3, arbitrary: known },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: anyString.map(pct) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%ZZ', '%E0%A4%A', '%00', '..%2F..', '%2e%2e', 'me', '') },
  );
};

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=made-up',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'application/merge-patch+json',
  'application/problem+json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/xml',
  '*/*',
  'nonsense',
];

const formOf = (value: unknown): string => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return String(value);
  return Object.entries(value)
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as const) : [[k, v] as const]))
    .map(([k, v]) => `${pct(k)}=${pct(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))}`)
    .join('&');
};

type Encoding = Extract<BodySpec, { kind: 'bytes' }>['encoding'];
const GOOD_ENCODINGS: Encoding[] = ['identity', 'identity', 'identity', 'gzip', 'deflate', 'br'];
const BAD_ENCODINGS: Encoding[] = ['truncated-gzip', 'garbage-br', 'unknown'];

const bodyFor = (doc: Document, op: Operation, mode: Mode): fc.Arbitrary<BodySpec> => {
  const jsonSchema = op.bodies['application/json'];
  const formSchema = op.bodies['application/x-www-form-urlencoded'];
  const json = fromSchema(doc, jsonSchema ?? {}, '(body)', mode).map((v) => ({
    contentType: 'application/json' as string | undefined,
    payload: (JSON.stringify(v) ?? 'undefined') as string | Buffer,
  }));
  const form = formSchema
    ? fromSchema(doc, formSchema, '(form)', mode).map((v) => ({
        contentType: 'application/x-www-form-urlencoded' as string | undefined,
        payload: formOf(v) as string | Buffer,
      }))
    : undefined;
  const payloads: fc.WeightedArbitrary<{ contentType: string | undefined; payload: string | Buffer }>[] = [
    { weight: 6, arbitrary: json },
  ];
  if (form) payloads.push({ weight: 3, arbitrary: form });
  if (!mode.wellFormed) {
    payloads.push(
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...CONTENT_TYPES, undefined), garbage)
          .map(([contentType, v]) => ({
            contentType,
            payload: contentType?.includes('form') ? formOf(v) : (JSON.stringify(v) ?? ''),
          })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.constantFrom('application/json', 'application/x-www-form-urlencoded'),
            fc.uint8Array({ maxLength: 300 }),
          )
          .map(([contentType, bytes]) => ({ contentType, payload: Buffer.from(bytes) })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '{',
            '{"a":',
            '[1,2',
            '{"email":"a@b.c",}',
            '\ufeff{}',
            'null',
            '"x"',
            '{"reason":"\\ud800"}',
            `{"x":"${'y'.repeat(17_000)}"}`,
          )
          .map((payload) => ({ contentType: 'application/json', payload })),
      },
    );
  }
  const encodings = mode.wellFormed ? GOOD_ENCODINGS : [...GOOD_ENCODINGS, ...BAD_ENCODINGS];
  const withBody = fc
    .tuple(fc.oneof(...payloads), fc.constantFrom(...encodings), fc.boolean())
    .map(([p, encoding, chunked]): BodySpec => ({ kind: 'bytes', ...p, encoding, chunked }));
  const none = fc.constant<BodySpec>({ kind: 'none' });
  if (Object.keys(op.bodies).length > 0) {
    return mode.wellFormed
      ? withBody
      : fc.oneof({ weight: 8, arbitrary: withBody }, { weight: 1, arbitrary: none });
  }
  return mode.wellFormed
    ? none
    : fc.oneof({ weight: 1, arbitrary: withBody }, { weight: 6, arbitrary: none });
};

const EXTRA_HEADERS: fc.Arbitrary<[string, Piece]> = fc.oneof(
  fc.tuple(
    fc.constant('idempotency-key'),
    fc.oneof(
      fc.constantFrom('k1', 'k2'),
      secret,
      headerText.filter((s) => s.length > 0),
    ),
  ),
  fc.tuple(fc.constant('last-event-id'), fc.oneof(positionLike, observed('position'), secret, headerText)),
  // Not a secret: a valid request id becomes the correlation id recorded on the events (their metadata).
  fc.tuple(fc.constant('x-request-id'), fc.oneof(fc.uuid(), headerText)),
  fc.tuple(
    fc.constant('accept'),
    fc.constantFrom('*/*', 'application/json', 'text/html', 'text/event-stream', 'nonsense'),
  ),
  fc.tuple(fc.constant('accept-encoding'), fc.constantFrom('gzip', 'br', 'identity;q=0', '*')),
  fc.tuple(fc.constant('origin'), fc.constantFrom('https://evil.example', 'null', 'http://identity.test')),
  fc.tuple(fc.constant('x-forwarded-for'), fc.constantFrom('1.2.3.4', 'garbage', '::1, 10.0.0.1')),
  fc.tuple(fc.constant('cookie'), fc.oneof(secret, headerText)),
  fc.tuple(fc.constant('range'), fc.constantFrom('bytes=0-10', 'bytes=999999999-', 'bytes=x')),
  fc.tuple(fc.constant('if-none-match'), fc.constantFrom('*', '"x"')),
  fc.tuple(fc.constant('expect'), fc.constantFrom('100-continue', 'something-else')),
  fc.tuple(fc.constant('x-http-method-override'), fc.constantFrom('DELETE', 'PUT')),
);

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The caller a well-formed request comes from: mostly one holding the operation's role. */
const wellFormedAuth = (op: Operation): fc.Arbitrary<Auth> => {
  if (!op.secured) return fc.constantFrom<Auth>('none', 'user');
  const fitting: Auth = op.roles.includes('admin') ? 'admin' : op.roles.length > 0 ? 'reader' : 'user';
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(fitting) },
    { weight: 1, arbitrary: fc.constantFrom<Auth>('user', 'admin', 'reader') },
  );
};

const requestIn = (doc: Document, op: Operation, mode: Mode): fc.Arbitrary<FuzzRequest> => {
  const segments = op.path
    .split('/')
    .slice(1)
    .map((seg): fc.Arbitrary<Piece> => {
      const param = /^\{(.+)\}$/.exec(seg)?.[1];
      if (!param) return fc.constant(seg);
      const declared = op.parameters.find((p) => p.in === 'path' && p.name === param);
      return pathSegment(doc, declared ?? { name: param, in: 'path' }, mode);
    });
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const declaredQuery = queryParams.map((p) =>
    fc.option(fc.tuple(fc.constant(p.name), parameterValue(doc, p, mode)), { freq: 3 }),
  );
  const query = (
    mode.wellFormed
      ? fc.tuple(...declaredQuery)
      : fc.tuple(
          ...declaredQuery,
          fc.option(
            fc.tuple(fc.constantFrom('unknown', 'after', 'limit', 'cursor', '__proto__'), anyString),
            {
              freq: 6,
            },
          ),
          // A parameter given twice arrives as an array.
          fc.option(
            fc
              .constantFrom(...queryParams.map((p) => p.name), 'x')
              .map((name): [string, Piece] => [name, '1']),
            {
              freq: 6,
            },
          ),
        )
  ).map((entries) => entries.filter((e): e is [string, Piece] => e !== null));
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const headers = fc
    .tuple(
      fc.tuple(
        ...headerParams.map((p) =>
          fc.option(fc.tuple(fc.constant(p.name.toLowerCase()), parameterValue(doc, p, mode)), { freq: 2 }),
        ),
      ),
      mode.wellFormed ? fc.constant([]) : fc.array(EXTRA_HEADERS, { maxLength: 3 }),
    )
    .map(([declared, extra]) => [...declared.filter((h): h is [string, Piece] => h !== null), ...extra]);
  const auth = mode.wellFormed
    ? wellFormedAuth(op)
    : fc.oneof(
        { weight: 2, arbitrary: fc.constant<Auth>('none') },
        { weight: 3, arbitrary: fc.constantFrom<Auth>('user', 'admin', 'reader') },
        { weight: 2, arbitrary: fc.constantFrom<Auth>('garbage', 'secret', 'forged-jwt') },
      );
  const method = mode.wellFormed
    ? fc.constant(op.method.toUpperCase())
    : fc.oneof(
        { weight: 8, arbitrary: fc.constant(op.method.toUpperCase()) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      );
  return fc.record({
    method,
    path: fc.tuple(...segments),
    query,
    headers,
    auth,
    body: bodyFor(doc, op, mode),
  });
};

/** Half the requests well-formed, half garbled. */
const requestFor = (doc: Document, op: Operation): fc.Arbitrary<FuzzRequest> =>
  fc.oneof(requestIn(doc, op, { wellFormed: true }), requestIn(doc, op, { wellFormed: false }));

// --- sending and checking ------------------------------------------------------------------------------

const encode = (spec: Extract<BodySpec, { kind: 'bytes' }>): { bytes: Buffer; encoding?: string } => {
  const raw = Buffer.isBuffer(spec.payload) ? spec.payload : Buffer.from(spec.payload, 'utf8');
  switch (spec.encoding) {
    case 'identity':
      return { bytes: raw };
    case 'gzip':
      return { bytes: gzipSync(raw), encoding: 'gzip' };
    case 'deflate':
      return { bytes: deflateSync(raw), encoding: 'deflate' };
    case 'br':
      return { bytes: brotliCompressSync(raw), encoding: 'br' };
    case 'truncated-gzip': {
      const whole = gzipSync(raw);
      return { bytes: whole.subarray(0, Math.max(1, whole.length - 6)), encoding: 'gzip' };
    }
    case 'garbage-br':
      return { bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), raw]), encoding: 'br' };
    case 'unknown':
      return { bytes: raw, encoding: 'compress' };
  }
};

const sendRaw = (
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: { bytes: Buffer; chunked: boolean } | undefined,
): Promise<Answer> =>
  new Promise((resolve) => {
    let settled = false;
    const done = (a: Answer) => {
      if (!settled) {
        settled = true;
        resolve(a);
      }
    };
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        // An event stream never ends by itself: its status and headers are the answer.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          done({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
          res.destroy();
          return;
        }
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (e) => done({ lost: e.message }));
      });
    } catch (e) {
      // Node refused to send it (a header it considers invalid): not the service's business.
      done({ lost: `client refused: ${(e as Error).message}` });
      return;
    }
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (e: NodeJS.ErrnoException) => done({ lost: e.code ?? e.message }));
    if (body && body.chunked) {
      req.write(body.bytes);
      req.end();
    } else req.end(body?.bytes);
  });

type Caller = { userId: string; email: string; password: string; accessToken: string };
type CallerName = 'user' | 'admin' | 'reader';
const ROLES_OF: Record<CallerName, Role[]> = {
  user: [],
  admin: ['admin'],
  reader: ['events:read', 'pii:read'],
};

type Context = {
  port: number;
  callers: Record<CallerName, Caller>;
  pools: Record<PoolKind, string[]>;
  /** Mails read so far for their link tokens. */
  mailsSeen: number;
  /** Ids the fuzzer must not deactivate or erase: its own callers. */
  protectedIds: Set<string>;
};

const FORGED_JWT =
  'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJyb2xlcyI6WyJhZG1pbiJdfQ.';

/** encodeURIComponent, except that a lone surrogate goes out as its UTF-8 replacement instead of throwing. */
const pct = (value: string): string =>
  encodeURIComponent(value.replace(/[\ud800-\udfff]/gu, (c) => (c.length === 1 ? '\ufffd' : c)));

const pick = (ctx: Context, kind: PoolKind, n: number): string => {
  const pool = ctx.pools[kind];
  return pool[n % Math.max(1, pool.length)] ?? '';
};

const resolvePiece = (ctx: Context, piece: Piece): string =>
  typeof piece === 'string' ? piece : pick(ctx, piece.kind, piece.observed);

/** Puts the observed values into a body: JSON-escaped in JSON, percent-encoded in a form. */
const fillIn = (ctx: Context, payload: string | Buffer): string | Buffer => {
  if (Buffer.isBuffer(payload)) return payload;
  return payload
    .replace(/\u00ab(\w+):(\d+)\u00bb/g, (_, kind: PoolKind, n: string) =>
      JSON.stringify(pick(ctx, kind, Number(n))).slice(1, -1),
    )
    .replace(/%C2%AB(\w+)%3A(\d+)%C2%BB/g, (_, kind: PoolKind, n: string) => pct(pick(ctx, kind, Number(n))));
};

const build = (ctx: Context, r: FuzzRequest) => {
  const path = `/${r.path.map((p) => (typeof p === 'string' ? p : pct(resolvePiece(ctx, p)))).join('/')}`;
  const query = r.query.map(([k, v]) => `${pct(k)}=${pct(resolvePiece(ctx, v))}`).join('&');
  const headers: Record<string, string> = { host: 'identity.test' };
  for (const [name, value] of r.headers)
    headers[name] = resolvePiece(ctx, value).replace(/[^\t\x20-\x7e\xe0-\xff]/g, '');
  if (r.auth === 'user' || r.auth === 'admin' || r.auth === 'reader') {
    headers.authorization = `Bearer ${ctx.callers[r.auth].accessToken}`;
  } else if (r.auth === 'garbage') headers.authorization = 'Basic Zm9vOmJhcg==';
  else if (r.auth === 'secret') headers.authorization = `Bearer ${MARK}bearer`;
  else if (r.auth === 'forged-jwt') headers.authorization = `Bearer ${FORGED_JWT}`;
  let body: { bytes: Buffer; chunked: boolean } | undefined;
  if (r.body.kind === 'bytes') {
    const { bytes, encoding } = encode({ ...r.body, payload: fillIn(ctx, r.body.payload) });
    if (r.body.contentType !== undefined) headers['content-type'] = r.body.contentType;
    if (encoding) headers['content-encoding'] = encoding;
    body = { bytes, chunked: r.body.chunked };
  }
  return { method: r.method, path: query ? `${path}?${query}` : path, headers, body };
};

/** What a request sent as a secret must never come back as: the marker, anywhere in the body. */
const echoes = (answerBody: string): boolean => {
  try {
    const parsed = JSON.parse(answerBody) as Record<string, unknown>;
    // `instance` is the request's path, by definition (RFC 9457 §3.1.5); the path holds no secret.
    if (parsed && typeof parsed === 'object' && 'instance' in parsed) delete parsed.instance;
    return JSON.stringify(parsed).includes(MARK);
  } catch {
    return answerBody.includes(MARK);
  }
};

const failuresOf = (sent: ReturnType<typeof build>, a: Answer): string[] => {
  if ('lost' in a) {
    // The server may close after answering a body over the limit (Connection: close) while the client is
    // still writing it; anything else that loses the answer is a failure.
    const over = (sent.body?.bytes.length ?? 0) > 16 * 1024;
    return over ? [] : [`no answer: ${a.lost}`];
  }
  const failures: string[] = [];
  const type = String(a.headers['content-type'] ?? '');
  if (a.status >= 500 && !(a.status === 503 && sent.path.startsWith('/health/ready'))) {
    failures.push(`answered ${a.status}`);
  }
  if (a.headers['x-content-type-options'] !== 'nosniff') failures.push('no X-Content-Type-Options: nosniff');
  if (a.headers['x-powered-by'] !== undefined) failures.push('X-Powered-By');
  if (a.status >= 400 && !(a.status === 503 && sent.path.startsWith('/health/ready'))) {
    if (!type.startsWith('application/problem+json')) failures.push(`error as ${type || 'no content type'}`);
    if (sent.method !== 'HEAD') {
      try {
        const p = JSON.parse(a.body) as { code?: string; status?: number; type?: string };
        if (!p.code || !CONTRACT_CODES.has(p.code)) failures.push(`code ${p.code} is not in the contract`);
        if (p.status !== a.status) failures.push(`problem status ${p.status} on a ${a.status}`);
        if (p.type !== `${PROBLEM_TYPE_BASE}${p.code}`) failures.push(`problem type ${p.type}`);
      } catch {
        failures.push('problem body is not JSON');
      }
    }
    if (a.status === 401 && !String(a.headers['www-authenticate']).startsWith('Bearer')) {
      failures.push('401 without WWW-Authenticate: Bearer');
    }
  }
  if (echoes(a.body)) failures.push('echoes a secret it was sent');
  return failures;
};

const POSITION = /^[0-9a-f]{16}-[0-9a-f]{16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const keep = (ctx: Context, kind: PoolKind, value: string): void => {
  const pool = ctx.pools[kind];
  if (ctx.protectedIds.has(value) || pool.includes(value)) return;
  pool.push(value);
  if (pool.length > 100) pool.shift();
};

/**
 * Ids, positions, cursors, addresses and refresh tokens from the answers, and the link tokens of the mails
 * sent since, so that later requests reach what only a real value opens (never the callers' own ids).
 */
const harvest = (ctx: Context, t: TestApp, a: Answer): void => {
  for (const mail of t.mail.messages.slice(ctx.mailsSeen)) {
    for (const [, token] of mail.text.matchAll(/[?&]token=([A-Za-z0-9_-]+)/g)) keep(ctx, 'token', token!);
    keep(ctx, 'email', mail.to);
  }
  ctx.mailsSeen = t.mail.messages.length;
  if ('lost' in a || !String(a.headers['content-type']).includes('json')) return;
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'string') {
      if (key === 'refresh_token') keep(ctx, 'token', v);
      else if (key === 'email') keep(ctx, 'email', v);
      else if (POSITION.test(v)) keep(ctx, 'position', v);
      else if (UUID.test(v) && /id$/.test(key)) keep(ctx, 'id', v);
      else if (key === 'next_cursor') keep(ctx, 'cursor', v);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  try {
    walk(JSON.parse(a.body), '');
  } catch {
    /* not JSON after all */
  }
};

/**
 * A signed-in account with `roles`, written straight into the store. Its password is one the generators
 * use, so change-password and the like sometimes succeed; its ids are kept out of the admin commands.
 */
const newCaller = async (
  t: TestApp,
  ctx: Pick<Context, 'protectedIds'>,
  name: CallerName,
): Promise<Caller> => {
  const account = await createAccount(t.services, { password: STRONG_PASSWORD, roles: ROLES_OF[name] });
  const tokens = await loginAs(t, account);
  ctx.protectedIds.add(account.userId).add(sessionIdOf(tokens.access_token));
  return { ...account, accessToken: tokens.access_token };
};

/**
 * A command that succeeded may have ended the caller's session (logout-all), changed its password or
 * erased it: sign in again, or, when that fails too (a new password, a lockout from wrong current
 * passwords, an erased account), carry on with a new account holding the same roles.
 */
const keepSignedIn = async (ctx: Context, t: TestApp, r: FuzzRequest, a: Answer): Promise<void> => {
  if (r.auth !== 'user' && r.auth !== 'admin' && r.auth !== 'reader') return;
  if ('lost' in a || a.status >= 300 || r.method === 'GET' || r.method === 'HEAD') return;
  const caller = ctx.callers[r.auth];
  const check = await fetch(`${t.url}/v1/auth/test-token`, {
    method: 'POST',
    headers: bearer(caller.accessToken),
  });
  if (check.status === 200) return;
  try {
    const tokens = await loginAs(t, caller);
    ctx.callers[r.auth] = { ...caller, accessToken: tokens.access_token };
    ctx.protectedIds.add(sessionIdOf(tokens.access_token));
  } catch {
    ctx.callers[r.auth] = await newCaller(t, ctx, r.auth);
  }
};

const operationsOf = (doc: Document): Operation[] =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method,
      path,
      parameters: op.parameters ?? [],
      bodies: Object.fromEntries(
        Object.entries(op.requestBody?.content ?? {}).map(([type, c]) => [type, c.schema]),
      ),
      secured: (op.security ?? []).length > 0,
      roles: op['x-required-roles'] ?? [],
    })),
  );

const [embedded] = testBackends();

describe('fuzzing every operation of the OpenAPI document (embedded store)', () => {
  let t: TestApp;
  let server: http.Server;
  let ctx: Context;
  let doc: Document;

  beforeAll(async () => {
    t = await startTestApp(embedded!);
    // The server src/main.ts runs, around the test app: the parser's refusals are part of the surface.
    server = createHttpServer(t.app, { logger: t.services.logger, timeouts: serverTimeouts(30) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const protectedIds = new Set<string>();
    const callers = {
      user: await newCaller(t, { protectedIds }, 'user'),
      admin: await newCaller(t, { protectedIds }, 'admin'),
      reader: await newCaller(t, { protectedIds }, 'reader'),
    };
    // Accounts for the admin commands to act on (the callers themselves are never handed to them).
    const victims = await Promise.all(
      [1, 2, 3].map(() => createAccount(t.services, { password: STRONG_PASSWORD })),
    );
    victims.push(await createAccount(t.services, { verified: false }));
    ctx = {
      port: (server.address() as AddressInfo).port,
      callers,
      pools: {
        id: victims.map((v) => v.userId),
        position: [],
        cursor: [],
        email: [],
        account: victims.map((v) => v.email),
        token: [],
      },
      mailsSeen: 0,
      protectedIds,
    };
    doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as Document;
  }, 60_000);
  afterAll(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await t?.close();
  });

  it(
    `never answers 5xx, answers every error as a contract problem, and echoes no secret (seed ${SEED}, ${RUNS} runs per operation)`,
    async () => {
      const operations = operationsOf(doc);
      expect(operations.length).toBeGreaterThan(30);
      const failures: string[] = [];
      const counts = new Map<string, number>();
      const statuses = new Map<string, number>();
      for (const [i, op] of operations.entries()) {
        const name = `${op.method.toUpperCase()} ${op.path}`;
        try {
          await fc.assert(
            fc.asyncProperty(requestFor(doc, op), async (r) => {
              const sent = build(ctx, r);
              const answer = await sendRaw(ctx.port, sent.method, sent.path, sent.headers, sent.body);
              counts.set(name, (counts.get(name) ?? 0) + 1);
              const outcome = 'lost' in answer ? 'lost' : String(answer.status);
              statuses.set(`${name} ${outcome}`, (statuses.get(`${name} ${outcome}`) ?? 0) + 1);
              harvest(ctx, t, answer);
              await keepSignedIn(ctx, t, r, answer);
              const found = failuresOf(sent, answer);
              if (found.length > 0) {
                const shown =
                  'lost' in answer ? answer.lost : `${answer.status} ${answer.body.slice(0, 300)}`;
                throw new Error(
                  `${found.join('; ')}\n  sent ${sent.method} ${sent.path.slice(0, 300)} ${JSON.stringify(sent.headers).slice(0, 400)} ` +
                    `body ${sent.body ? JSON.stringify(sent.body.bytes.toString('latin1').slice(0, 300)) : '-'}\n  got ${shown}`,
                );
              }
            }),
            { seed: SEED + i, numRuns: RUNS, endOnFailure: true },
          );
        } catch (e) {
          // fast-check's report (seed, path, counterexample), then what the check said.
          const report = (e as Error).message.split('\n').slice(0, 3).join('\n');
          const cause = ((e as Error).cause as Error | undefined)?.stack ?? '';
          failures.push(`${name}: ${report}\n${cause.split('\n').slice(0, 6).join('\n')}`);
        }
      }
      // FUZZ_STATS=1: how the answers spread over statuses, to see how deep the generated requests get.
      if (process.env.FUZZ_STATS)
        console.log(
          [...statuses]
            .sort()
            .map(([k, n]) => `${k}: ${n}`)
            .join('\n'),
        );
      expect(failures).toEqual([]);
      // Every operation was driven, each as many times as asked.
      expect(
        operations.filter((op) => (counts.get(`${op.method.toUpperCase()} ${op.path}`) ?? 0) < RUNS),
      ).toEqual([]);
    },
    60_000 + RUNS * 40 * 200,
  );
});

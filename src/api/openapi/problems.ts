import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { PROBLEMS, PROBLEM_TYPE_BASE, type ProblemCode } from '../problem';
import { PROBLEM_TYPE, type ProblemSpec, type RouteSpec } from '../routes/route';
import { problemSchema } from './schemas';

/**
 * The problem answers of an operation, derived from its flags (routes/route.ts) and its own `problems`:
 * the same flags that put the middleware in front of its handler (routes/mount.ts).
 */

/** `/v1/admin/users/:id` -> `/v1/admin/users/{id}`. Other express syntax stays as it is, so it shows up. */
export const toOpenApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

export const WHEN: Record<ProblemCode, string> = {
  'malformed-body': 'the body is not valid JSON or form data',
  'validation-failed': 'the body, a query parameter or a header does not match the schema (see `errors`)',
  'invalid-or-expired-token': 'the token is unknown, used, superseded or expired',
  'invalid-credentials': 'the email or password is not correct (any reason before the password is proven)',
  'invalid-token': 'the access token is missing, invalid, expired or revoked',
  'invalid-refresh-token': 'the refresh token is unknown, expired, revoked or reused',
  'email-not-verified': 'the password is correct but the email address is not verified yet',
  forbidden: 'the caller lacks the role',
  'not-found': 'no such resource',
  'method-not-allowed': 'the path exists, the method does not (see `Allow`)',
  conflict:
    'a concurrent modification, a state that forbids the command, or the same `Idempotency-Key` still running',
  'payload-too-large': 'the body is over 16 KiB',
  'unsupported-media-type': 'the body has another content type',
  'weak-password': 'the password fails the policy (see `errors`)',
  'idempotency-key-reused': 'the same `Idempotency-Key` came with a different request',
  'rate-limited': 'too many requests from this address (see `Retry-After`)',
  'internal-error': 'an unexpected failure; the details are in the service log',
  unavailable: 'a backing store is down (see `Retry-After`)',
};

/** Every problem an operation can answer with, by status: its own ones and those its flags bring. */
export const problemsOf = (spec: RouteSpec): Map<number, ProblemCode[]> => {
  const all: ProblemSpec[] = [...(spec.problems ?? [])];
  if (spec.request?.body) {
    all.push('malformed-body', 'validation-failed', 'payload-too-large', 'unsupported-media-type');
  }
  if (spec.request?.query || spec.request?.headers) all.push('validation-failed');
  if (spec.idempotency) all.push('validation-failed', 'conflict', 'idempotency-key-reused');
  if (spec.bearer) all.push('invalid-token');
  if (spec.roles) all.push('forbidden');
  if (spec.rateLimit) all.push('rate-limited');
  if (spec.store || spec.bearer) all.push('unavailable');
  all.push('internal-error');

  const byStatus = new Map<number, ProblemCode[]>();
  for (const p of all) {
    const { code, status } = typeof p === 'string' ? { code: p, status: PROBLEMS[p].status } : p;
    const codes = byStatus.get(status) ?? [];
    if (!codes.includes(code)) codes.push(code);
    byStatus.set(status, codes);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
};

const asCodes = (codes: ProblemCode[]): [ProblemCode, ...ProblemCode[]] => {
  if (codes.length === 0) throw new Error('a problem response needs at least one code');
  return codes as [ProblemCode, ...ProblemCode[]];
};

/** The zod schema of a problem answer of this operation at this status, or undefined if it has none. */
export const problemResponseSchema = (spec: RouteSpec, status: number) => {
  const codes = problemsOf(spec).get(status);
  return codes ? problemSchema(status, asCodes(codes)) : undefined;
};

/** Answers that belong to no operation: an unknown path, and a known path with another method. */
export const UNMATCHED = {
  404: problemSchema(404, ['not-found']).openapi('NotFoundProblem'),
  405: problemSchema(405, ['method-not-allowed']).openapi('MethodNotAllowedProblem'),
} as const;

const HEADER_REF = {
  'WWW-Authenticate': { $ref: '#/components/headers/WWW-Authenticate' },
  'Retry-After': { $ref: '#/components/headers/Retry-After' },
};

// A 409 carries Retry-After when its `Idempotency-Key` is still running (idempotency.ts).
const problemHeaders = (spec: RouteSpec, status: number): Record<string, { $ref: string }> | undefined => {
  if (status === 401) return { 'WWW-Authenticate': HEADER_REF['WWW-Authenticate'] };
  if (status === 429 || status === 503 || (status === 409 && spec.idempotency)) {
    return { 'Retry-After': HEADER_REF['Retry-After'] };
  }
  return undefined;
};

const exampleProblem = (spec: RouteSpec, status: number, code: ProblemCode) => ({
  type: `${PROBLEM_TYPE_BASE}${code}`,
  title: PROBLEMS[code].title,
  status,
  detail: WHEN[code][0]!.toUpperCase() + WHEN[code].slice(1),
  instance: toOpenApiPath(spec.path),
  code,
});

export const problemResponse = (spec: RouteSpec, status: number, codes: ProblemCode[]): ResponseConfig => {
  const headers = problemHeaders(spec, status);
  return {
    description: codes.map((c) => `\`${c}\`: ${WHEN[c]}`).join('; '),
    ...(headers ? { headers } : {}),
    content: {
      [PROBLEM_TYPE]: {
        schema: problemResponseSchema(spec, status),
        examples: Object.fromEntries(
          codes.map((code) => [code, { value: exampleProblem(spec, status, code) }]),
        ),
      },
    },
  };
};

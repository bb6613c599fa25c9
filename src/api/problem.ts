import type { Response } from 'express';

/**
 * RFC 9457 problem details: the one table that maps every failure to an HTTP answer.
 * `code` is the stable slug clients branch on; `type` is a URI built from it.
 */
export const PROBLEMS = {
  'malformed-body': { status: 400, title: 'Malformed request body' },
  'validation-failed': { status: 400, title: 'Validation failed' },
  'invalid-or-expired-token': { status: 400, title: 'Invalid or expired token' },
  'invalid-credentials': { status: 401, title: 'Invalid credentials' },
  'invalid-token': { status: 401, title: 'Invalid access token' },
  'invalid-refresh-token': { status: 401, title: 'Invalid refresh token' },
  'email-not-verified': { status: 403, title: 'Email not verified' },
  forbidden: { status: 403, title: 'Forbidden' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'weak-password': { status: 422, title: 'Weak password' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency key reused' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'internal-error': { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export type FieldError = { path: string; message: string };

export const PROBLEM_TYPE_BASE = 'https://identity.local/problems/';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail ?? code);
    this.name = 'HttpProblem';
  }
}

/** Builds a problem from the table by code; the status comes from the table. */
export const problem = (
  code: ProblemCode,
  detail?: string,
  extra?: { errors?: FieldError[]; headers?: Record<string, string> },
): HttpProblem => new HttpProblem(PROBLEMS[code].status, code, detail, extra);

export type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  errors?: FieldError[];
};

export const problemBody = (p: HttpProblem, instance?: string): ProblemBody => {
  const known = (PROBLEMS as Record<string, { title: string } | undefined>)[p.code];
  return {
    type: `${PROBLEM_TYPE_BASE}${p.code}`,
    title: known?.title ?? p.code,
    status: p.status,
    ...(p.detail !== undefined ? { detail: p.detail } : {}),
    ...(instance !== undefined ? { instance } : {}),
    code: p.code,
    ...(p.extra.errors ? { errors: p.extra.errors } : {}),
  };
};

export const sendProblem = (res: Response, p: HttpProblem, instance?: string): void => {
  for (const [name, value] of Object.entries(p.extra.headers ?? {})) res.setHeader(name, value);
  // RFC 6750 §3: every 401 names the scheme; a bad access token also says why.
  if (p.status === 401 && !res.getHeader('WWW-Authenticate')) {
    res.setHeader('WWW-Authenticate', p.code === 'invalid-token' ? 'Bearer error="invalid_token"' : 'Bearer');
  }
  res
    .status(p.status)
    .type('application/problem+json')
    .send(JSON.stringify(problemBody(p, instance)));
};

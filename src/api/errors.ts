import { ZodError } from 'zod';
import {
  AppendTooLargeError,
  StoreUnavailableError,
  WrongExpectedVersionError,
} from '../application/event-store';
import { DOMAIN_ERROR_CODES, type DomainErrorCode } from '../domain/shared/errors';
import { HttpProblem, PROBLEMS, problem, type FieldError, type ProblemCode } from './problem';

/**
 * The one table from domain errors to problems, keyed by the code union: a new domain code does not compile
 * until it has its problem here. Anything unknown is a 500 whose details stay in the log.
 */
const DOMAIN_TO_PROBLEM = {
  'user-not-found': 'not-found',
  'session-not-found': 'not-found',
  // The caller's own session ended while its request ran (a concurrent logout-all): its token is revoked.
  'session-ended': 'invalid-token',
  'user-erased': 'not-found',
  'user-deactivated': 'conflict',
  conflict: 'conflict',
  'invalid-or-expired-token': 'invalid-or-expired-token',
  'invalid-refresh-token': 'invalid-refresh-token',
  // Roles arrive through a schema that lists them; the domain's own check is the backstop.
  'unknown-role': 'validation-failed',
  'email-taken': 'conflict',
} as const satisfies Record<DomainErrorCode, ProblemCode>;

/** The event store port's own codes (application/event-store.ts), for errors that are not its classes. */
const STORE_TO_PROBLEM: Partial<Record<string, ProblemCode>> = {
  'wrong-expected-version': 'conflict',
  'invalid-position': 'validation-failed',
};

const DOMAIN_CODES: ReadonlySet<string> = new Set(DOMAIN_ERROR_CODES);
const isDomainCode = (code: string): code is DomainErrorCode => DOMAIN_CODES.has(code);

/**
 * Errors that express and its libraries raise for a client's mistake, marked with a 4xx `status` (as
 * http-errors makes them, and as the router marks a path whose percent-encoding does not decode). Body
 * errors never get here (body.ts turns them into problems); these are what is left, answered by status.
 */
const CLIENT_ERROR_STATUS: Record<number, ProblemCode> = {
  400: 'validation-failed',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
};

/** Zod issues as `{path, message}` without ever echoing the submitted value (it may be a password). */
export const fieldErrors = (error: ZodError): FieldError[] =>
  error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(body)',
    message:
      issue.code === 'unrecognized_keys' ? `unknown member(s): ${issue.keys.join(', ')}` : issue.message,
  }));

export const toProblem = (err: unknown): HttpProblem => {
  if (err instanceof HttpProblem) return err;
  if (err instanceof ZodError)
    return problem('validation-failed', 'The request does not match the schema', {
      errors: fieldErrors(err),
    });
  if (err instanceof StoreUnavailableError)
    return problem('unavailable', 'A backing store is unavailable; retry shortly', {
      headers: { 'Retry-After': '5' },
    });
  if (err instanceof WrongExpectedVersionError)
    return problem('conflict', 'Concurrent modification; retry the request');
  // An append over the store's own limit (EventStoreDB MaxAppendSize): the request carried too much.
  if (err instanceof AppendTooLargeError)
    return problem('payload-too-large', 'The request is larger than the event store accepts');
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') {
      const message = typeof e.message === 'string' ? e.message : undefined;
      if (isDomainCode(e.code)) return problem(DOMAIN_TO_PROBLEM[e.code], message);
      if (e.code in PROBLEMS && e.code !== 'internal-error') return problem(e.code as ProblemCode, message);
      const store = STORE_TO_PROBLEM[e.code];
      if (store) return problem(store, message);
    }
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // The library's message can quote the input: a fixed detail instead.
      return problem(CLIENT_ERROR_STATUS[status] ?? 'validation-failed', 'The request is not valid');
    }
  }
  return problem('internal-error', 'An unexpected error occurred');
};

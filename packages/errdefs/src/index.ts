/**
 * @podkit/errdefs — the one set of error classes every podkit layer uses.
 *
 * Modelled on containerd's errdefs: a small fixed set of classes, each mapping to one gRPC status code
 * and one CLI exit code. Callers test errors with the `is*()` helpers (which look at a branded `code`,
 * so they keep working when two copies of this package are loaded), never by matching message text.
 */

export const ERROR_CODES = [
  'InvalidArgument',
  'NotFound',
  'AlreadyExists',
  'FailedPrecondition',
  'Unavailable',
  'DeadlineExceeded',
  'PermissionDenied',
  'ResourceExhausted',
  'Unimplemented',
  'Canceled',
  'Aborted',
  'DataLoss',
  'Internal',
  'Unknown',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem found in a document: the JSON path of the field (e.g. `/linux/namespaces/2/type`) and why. */
export interface FieldIssue {
  path: string;
  reason: string;
}

/** Structured details carried by an error. `field` names the offending input for InvalidArgument. */
export interface ErrorDetails {
  field?: string;
  issues?: FieldIssue[];
  /** For errors that came from a syscall: the phase, the syscall and the errno name. */
  phase?: string;
  syscall?: string;
  errno?: string;
  [key: string]: unknown;
}

export interface ErrorOptions {
  cause?: unknown;
  details?: ErrorDetails;
}

const BRAND = Symbol.for('@podkit/errdefs.error');

/** gRPC status codes (google.rpc.Code) for each class; the CRI server maps errors through this table only. */
export const GRPC_STATUS: Readonly<Record<ErrorCode, number>> = {
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
};

/**
 * Process exit codes for the CLIs. runc exits 1 for every failure, and callers such as go-runc only
 * look at zero / non-zero, so every class maps to 1 except a usage error (2, as yargs and most tools do).
 */
export function exitCodeFor(err: unknown): number {
  return isInvalidArgument(err) && (err as PodkitError).details?.['usage'] === true ? 2 : 1;
}

export abstract class PodkitError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;
  readonly [BRAND] = true;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
  }

  override get name(): string {
    return `${this.code}Error`;
  }

  /** A JSON-friendly form (for logs and the CLIs' `-o json`). */
  toJSON(): { code: ErrorCode; message: string; details?: ErrorDetails } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export class InvalidArgumentError extends PodkitError {
  readonly code = 'InvalidArgument' as const;
}
export class NotFoundError extends PodkitError {
  readonly code = 'NotFound' as const;
}
export class AlreadyExistsError extends PodkitError {
  readonly code = 'AlreadyExists' as const;
}
export class FailedPreconditionError extends PodkitError {
  readonly code = 'FailedPrecondition' as const;
}
export class UnavailableError extends PodkitError {
  readonly code = 'Unavailable' as const;
}
export class DeadlineExceededError extends PodkitError {
  readonly code = 'DeadlineExceeded' as const;
}
export class PermissionDeniedError extends PodkitError {
  readonly code = 'PermissionDenied' as const;
}
export class ResourceExhaustedError extends PodkitError {
  readonly code = 'ResourceExhausted' as const;
}
export class UnimplementedError extends PodkitError {
  readonly code = 'Unimplemented' as const;
}
export class CanceledError extends PodkitError {
  readonly code = 'Canceled' as const;
}
export class AbortedError extends PodkitError {
  readonly code = 'Aborted' as const;
}
export class DataLossError extends PodkitError {
  readonly code = 'DataLoss' as const;
}
export class InternalError extends PodkitError {
  readonly code = 'Internal' as const;
}
export class UnknownError extends PodkitError {
  readonly code = 'Unknown' as const;
}

const CLASSES: Readonly<Record<ErrorCode, new (message: string, options?: ErrorOptions) => PodkitError>> = {
  InvalidArgument: InvalidArgumentError,
  NotFound: NotFoundError,
  AlreadyExists: AlreadyExistsError,
  FailedPrecondition: FailedPreconditionError,
  Unavailable: UnavailableError,
  DeadlineExceeded: DeadlineExceededError,
  PermissionDenied: PermissionDeniedError,
  ResourceExhausted: ResourceExhaustedError,
  Unimplemented: UnimplementedError,
  Canceled: CanceledError,
  Aborted: AbortedError,
  DataLoss: DataLossError,
  Internal: InternalError,
  Unknown: UnknownError,
};

/** Builds the error class for a code (e.g. from a gRPC status or a native report). */
export function errorFromCode(code: ErrorCode, message: string, options?: ErrorOptions): PodkitError {
  return new CLASSES[code](message, options);
}

/** True for any podkit error, from this copy of the package or another one. */
export function isPodkitError(err: unknown): err is PodkitError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

export function codeOf(err: unknown): ErrorCode {
  return isPodkitError(err) ? err.code : 'Unknown';
}

const is =
  <T extends PodkitError>(code: ErrorCode) =>
  (err: unknown): err is T =>
    isPodkitError(err) && err.code === code;

export const isInvalidArgument = is<InvalidArgumentError>('InvalidArgument');
export const isNotFound = is<NotFoundError>('NotFound');
export const isAlreadyExists = is<AlreadyExistsError>('AlreadyExists');
export const isFailedPrecondition = is<FailedPreconditionError>('FailedPrecondition');
export const isUnavailable = is<UnavailableError>('Unavailable');
export const isDeadlineExceeded = is<DeadlineExceededError>('DeadlineExceeded');
export const isPermissionDenied = is<PermissionDeniedError>('PermissionDenied');
export const isResourceExhausted = is<ResourceExhaustedError>('ResourceExhausted');
export const isUnimplemented = is<UnimplementedError>('Unimplemented');
export const isCanceled = is<CanceledError>('Canceled');
export const isAborted = is<AbortedError>('Aborted');
export const isDataLoss = is<DataLossError>('DataLoss');
export const isInternal = is<InternalError>('Internal');

/** An InvalidArgument error about one field: the message reads `<field>: <reason>`. */
export function invalidField(field: string, reason: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${reason}`, { cause, details: { field, issues: [{ path: field, reason }] } });
}

/** An InvalidArgument error listing every problem of a document, each with its path. */
export function invalidDocument(what: string, issues: FieldIssue[]): InvalidArgumentError {
  const head = issues.slice(0, 5).map((i) => `${i.path || '/'}: ${i.reason}`);
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
  return new InvalidArgumentError(`invalid ${what}: ${head.join('; ')}${more}`, {
    details: { field: issues[0]?.path, issues },
  });
}

const ERRNO_CODES: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'NotFound',
  ESRCH: 'NotFound',
  ENOTDIR: 'InvalidArgument',
  EEXIST: 'AlreadyExists',
  EINVAL: 'InvalidArgument',
  E2BIG: 'InvalidArgument',
  ENAMETOOLONG: 'InvalidArgument',
  ELOOP: 'InvalidArgument',
  EXDEV: 'InvalidArgument',
  EPERM: 'PermissionDenied',
  EACCES: 'PermissionDenied',
  EROFS: 'PermissionDenied',
  EBUSY: 'FailedPrecondition',
  ENOTEMPTY: 'FailedPrecondition',
  ENOSPC: 'ResourceExhausted',
  ENOMEM: 'ResourceExhausted',
  EMFILE: 'ResourceExhausted',
  ENFILE: 'ResourceExhausted',
  EAGAIN: 'Unavailable',
  ECONNREFUSED: 'Unavailable',
  ECONNRESET: 'Unavailable',
  EHOSTUNREACH: 'Unavailable',
  ETIMEDOUT: 'DeadlineExceeded',
  ENOSYS: 'Unimplemented',
  EOPNOTSUPP: 'Unimplemented',
  ENOTSUP: 'Unimplemented',
  EINTR: 'Aborted',
};

/** The class an errno name maps to (ENOENT → NotFound, EPERM → PermissionDenied, ...). */
export function codeForErrno(errno: string): ErrorCode {
  return ERRNO_CODES[errno] ?? 'Internal';
}

/** Turns a failed syscall into the matching class; the message reads `<context>: <syscall>: <errno> <message>`. */
export function fromErrno(
  report: { syscall: string; errno: string; message?: string; phase?: string },
  context?: string,
  cause?: unknown,
): PodkitError {
  const parts = [context, report.syscall, [report.errno, report.message].filter(Boolean).join(' ')].filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  return errorFromCode(codeForErrno(report.errno), parts.join(': '), {
    cause,
    details: { syscall: report.syscall, errno: report.errno, ...(report.phase ? { phase: report.phase } : {}) },
  });
}

/** Converts any thrown value into a podkit error: podkit errors pass through, Node system errors map by errno. */
export function toPodkitError(err: unknown, context?: string): PodkitError {
  if (isPodkitError(err)) return context ? wrap(err, context) : err;
  if (err instanceof Error) {
    const sys = err as NodeJS.ErrnoException;
    if (typeof sys.code === 'string' && /^E[A-Z0-9]+$/.test(sys.code)) {
      const msg = context ? `${context}: ${err.message}` : err.message;
      return errorFromCode(codeForErrno(sys.code), msg, {
        cause: err,
        details: { errno: sys.code, ...(sys.syscall ? { syscall: sys.syscall } : {}) },
      });
    }
    return new InternalError(context ? `${context}: ${err.message}` : err.message, { cause: err });
  }
  return new UnknownError(context ? `${context}: ${String(err)}` : String(err), { cause: err });
}

/** Adds context to an error and keeps its class and details: `wrap(e, "mount /proc")` → "mount /proc: <e>". */
export function wrap(err: PodkitError, context: string): PodkitError {
  return errorFromCode(err.code, `${context}: ${err.message}`, { cause: err, details: err.details });
}

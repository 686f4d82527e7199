/**
 * The one boundary where errors from native code become errdefs classes. The addon rejects with an
 * Error carrying `{syscall, errno, nativeMessage, phase}`; podkit-init reports the same fields over
 * the plan channel.
 */
import { fromErrno, InternalError, isPodkitError, type PodkitError } from '@podkit/errdefs';

export interface NativeReport {
  syscall: string;
  errno: string;
  message?: string;
  phase?: string;
}

function reportOf(err: unknown): NativeReport | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e['syscall'] !== 'string' || typeof e['errno'] !== 'string') return undefined;
  return {
    syscall: e['syscall'],
    errno: e['errno'],
    message: typeof e['nativeMessage'] === 'string' ? e['nativeMessage'] : undefined,
    phase: typeof e['phase'] === 'string' ? e['phase'] : undefined,
  };
}

/** Converts an error thrown by the addon (or a report of podkit-init) into an errdefs class. */
export function nativeError(err: unknown, context?: string): PodkitError {
  if (isPodkitError(err)) return err;
  const report = reportOf(err);
  if (report) return fromErrno(report, context, err);
  return new InternalError(`${context ? `${context}: ` : ''}${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Awaits a native promise, converting its rejection. */
export async function native<T>(p: Promise<T>, context?: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw nativeError(err, context);
  }
}

/** Runs a synchronous native call, converting what it throws. */
export function nativeSync<T>(fn: () => T, context?: string): T {
  try {
    return fn();
  } catch (err) {
    throw nativeError(err, context);
  }
}

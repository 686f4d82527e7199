/**
 * Network namespace pinning: typed wrappers over the addon's netns module and the `podkit-netns` helper.
 *
 * A namespace is pinned by bind-mounting `/proc/thread-self/ns/net` of a short-lived native thread (which
 * unshared CLONE_NEWNET and then exits) onto a file; no Node thread ever enters another namespace. Running
 * a command inside a namespace goes through the static helper `podkit-netns <path> <cmd...>` (setns, then
 * execvp), never through the Node process itself.
 */
import * as path from 'node:path';
import { fromErrno, invalidField, isPodkitError } from '@podkit/errdefs';
import { helperPath, loadNative } from './native';

/** What `inspectNetns` reports about a path. */
export interface NetnsInfo {
  /** The path exists. */
  exists: boolean;
  /** The path is a (pinned) network namespace: an nsfs file of type CLONE_NEWNET. */
  isNetns: boolean;
  /** The namespace's inode (as in `net:[inode]`); 0 when the path does not exist. */
  inode: number;
}

interface NativeErrorReport {
  syscall: string;
  errno: string;
  message?: string;
}

/** The addon functions of native/src/addon/netns.cc. */
export interface NetnsBinding {
  netnsPin(path: string): Promise<void>;
  netnsUnpin(path: string): Promise<void>;
  netnsCheck(path: string): Promise<NetnsInfo>;
}

function binding(): NetnsBinding {
  return loadNative<NetnsBinding>();
}

function checkPath(field: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) throw invalidField(field, 'must be a non-empty string');
  if (p.includes('\0')) throw invalidField(field, 'must not contain a NUL byte');
  if (!path.isAbsolute(p)) throw invalidField(field, `must be an absolute path, got "${p}"`);
  return path.normalize(p);
}

function isReport(err: unknown): err is NativeErrorReport {
  return typeof err === 'object' && err !== null && typeof (err as NativeErrorReport).syscall === 'string' && typeof (err as NativeErrorReport).errno === 'string';
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isReport(err)) throw fromErrno(err, what, err);
    if (isPodkitError(err)) throw err;
    throw fromErrno({ syscall: 'native', errno: 'EINVAL', message: (err as Error).message }, what, err);
  }
}

/**
 * Creates a new network namespace and pins it at `nsPath` (an empty file is created exclusively, then the
 * namespace is bind-mounted onto it). AlreadyExists when the path exists; the parent folder must exist.
 */
export async function pinNetns(nsPath: string): Promise<void> {
  const p = checkPath('netns path', nsPath);
  await call(`pin network namespace ${p}`, () => binding().netnsPin(p));
}

/** Unmounts (detached) and removes a pinned namespace. Idempotent: a missing path is not an error. */
export async function unpinNetns(nsPath: string): Promise<void> {
  const p = checkPath('netns path', nsPath);
  await call(`remove network namespace ${p}`, () => binding().netnsUnpin(p));
}

/** Tells whether a path exists and is a network namespace (nsfs, CLONE_NEWNET). */
export async function inspectNetns(nsPath: string): Promise<NetnsInfo> {
  const p = checkPath('netns path', nsPath);
  return call(`inspect network namespace ${p}`, () => binding().netnsCheck(p));
}

/** The file and argv that run `argv` inside the namespace at `nsPath` (through `podkit-netns`). */
export function netnsExecCommand(nsPath: string, argv: readonly string[]): { file: string; args: string[] } {
  const p = checkPath('netns path', nsPath);
  if (!Array.isArray(argv) || argv.length === 0) throw invalidField('argv', 'must name a command');
  argv.forEach((a, i) => {
    if (typeof a !== 'string') throw invalidField(`argv/${i}`, 'must be a string');
  });
  return { file: helperPath('podkit-netns'), args: [p, ...argv] };
}

/** Absolute path of the `podkit-netns` helper (for callers that build their own command lines). */
export function netnsHelperPath(): string {
  return helperPath('podkit-netns');
}

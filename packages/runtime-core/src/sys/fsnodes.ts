/**
 * Typed wrappers for the file-system nodes Node's `fs` cannot make: device nodes and FIFOs, and
 * extended attributes read and written on the path itself (never following a final symlink), including
 * `trusted.overlay.*` and `security.capability`. Errors become errdefs classes (`fromErrno`).
 */
import { fromErrno, invalidField } from '@podkit/errdefs';
import { loadNative } from './native';

interface NativeErrorReport {
  syscall: string;
  errno: string;
  message?: string;
}

interface FsNodesBinding {
  mknod(path: string, mode: number, major: number, minor: number): Promise<void>;
  lsetxattr(path: string, name: string, value: Buffer, flags: number): Promise<void>;
  lgetxattr(path: string, name: string): Promise<Buffer>;
  llistxattr(path: string): Promise<string[]>;
}

/** File type bits (as in `stat.st_mode`). */
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** `XATTR_CREATE` / `XATTR_REPLACE` flags for `setXattr`. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

export type NodeKind = 'char' | 'block' | 'fifo';

export interface MknodOptions {
  kind: NodeKind;
  /** Permission bits (0..0o7777); the file type comes from `kind`. */
  mode: number;
  major?: number;
  minor?: number;
}

function binding(): FsNodesBinding {
  return loadNative<FsNodesBinding>();
}

function isReport(err: unknown): err is NativeErrorReport {
  return typeof err === 'object' && err !== null && typeof (err as NativeErrorReport).syscall === 'string' && typeof (err as NativeErrorReport).errno === 'string';
}

async function call<T>(context: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isReport(err)) throw fromErrno(err, context, err);
    throw err;
  }
}

function checkU32(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalidField(field, `must be an unsigned 32-bit integer, got ${v}`);
}

function checkPath(field: string, p: string): void {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) throw invalidField(field, 'must be a non-empty string without NUL');
}

/** Creates a character or block device node or a FIFO at `path` (the path must not exist). */
export async function mknod(path: string, opts: MknodOptions): Promise<void> {
  checkPath('path', path);
  const type = opts.kind === 'char' ? S_IFCHR : opts.kind === 'block' ? S_IFBLK : opts.kind === 'fifo' ? S_IFIFO : undefined;
  if (type === undefined) throw invalidField('kind', `must be one of char, block, fifo, got ${String(opts.kind)}`);
  if (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777) throw invalidField('mode', `must be permission bits 0..0o7777, got ${opts.mode}`);
  const major = opts.major ?? 0;
  const minor = opts.minor ?? 0;
  checkU32('major', major);
  checkU32('minor', minor);
  await call(`mknod ${path}`, () => binding().mknod(path, type | opts.mode, major, minor));
}

/** Creates a FIFO at `path`. */
export function mkfifo(path: string, mode: number): Promise<void> {
  return mknod(path, { kind: 'fifo', mode });
}

/** Sets an extended attribute on `path` itself (a symlink is not followed). */
export async function setXattr(path: string, name: string, value: Buffer | string, flags = 0): Promise<void> {
  checkPath('path', path);
  checkPath('name', name);
  if (!name.includes('.')) throw invalidField('name', `must be namespaced (user., trusted., security., system.), got ${name}`);
  checkU32('flags', flags);
  const buf = typeof value === 'string' ? Buffer.from(value) : value;
  await call(`set xattr ${name} on ${path}`, () => binding().lsetxattr(path, name, buf, flags));
}

/** Reads an extended attribute of `path` itself; `undefined` when it is not set. */
export async function getXattr(path: string, name: string): Promise<Buffer | undefined> {
  checkPath('path', path);
  checkPath('name', name);
  try {
    return await binding().lgetxattr(path, name);
  } catch (err) {
    if (isReport(err) && err.errno === 'ENODATA') return undefined;
    if (isReport(err)) throw fromErrno(err, `get xattr ${name} of ${path}`, err);
    throw err;
  }
}

/** Lists the extended attribute names of `path` itself (those the caller may see). */
export async function listXattrs(path: string): Promise<string[]> {
  checkPath('path', path);
  return call(`list xattrs of ${path}`, () => binding().llistxattr(path));
}

/** All extended attributes of `path` itself, name → value. */
export async function getAllXattrs(path: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of await listXattrs(path)) {
    const v = await getXattr(path, name);
    if (v !== undefined) out.set(name, v);
  }
  return out;
}

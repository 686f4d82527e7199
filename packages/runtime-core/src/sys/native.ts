/**
 * The one module that loads podkit's native addon (`podkit_native.node`) and finds the helper
 * executables (`podkit-init`, `podkit-pause`, ...). Everything else asks this module.
 *
 * Search order: `$PODKIT_NATIVE_DIR`, then `<package>/native-bin` (where `native:build` copies the
 * artefacts; the same relative path from `src/sys` and `dist/sys`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '@podkit/errdefs';

/** ABI version this TypeScript expects; must equal `kAddonAbi` in native/src/common/version.h. */
export const EXPECTED_ADDON_ABI = 1;

export interface NativeInfo {
  abi: number;
  protocol: number;
  napi: number;
  kernel?: string;
}

/** The functions every build of the addon has; areas of `sys` declare their own extra functions. */
export interface CoreBinding {
  modules: string[];
  info(): NativeInfo;
  add(a: number, b: number): number;
  getpid(): number;
}

let cached: CoreBinding | undefined;

/** Folders searched for native artefacts, in order. */
export function nativeDirs(): string[] {
  const dirs: string[] = [];
  if (process.env['PODKIT_NATIVE_DIR']) dirs.push(path.resolve(process.env['PODKIT_NATIVE_DIR']));
  dirs.push(path.resolve(__dirname, '..', '..', 'native-bin'));
  return dirs;
}

function missing(what: string, looked: string[]): FailedPreconditionError {
  return new FailedPreconditionError(
    `podkit native ${what} not found (looked in ${looked.join(', ')}): build it with \`npm run build\` ` +
      'or `npx nx run native:build` from the repository root (needs cmake, make and g++), ' +
      'or point PODKIT_NATIVE_DIR at a folder that holds it',
    { details: { field: 'PODKIT_NATIVE_DIR', looked } },
  );
}

/** Loads the addon once per process. Throws FailedPreconditionError with the fix when it is missing. */
export function loadNative<T extends object = CoreBinding>(): CoreBinding & T {
  if (cached) return cached as CoreBinding & T;
  const dirs = nativeDirs();
  const file = dirs.map((d) => path.join(d, 'podkit_native.node')).find((f) => fs.existsSync(f));
  if (!file) throw missing('addon podkit_native.node', dirs);
  const mod = { exports: {} as CoreBinding };
  try {
    process.dlopen(mod, file);
  } catch (err) {
    throw new FailedPreconditionError(`podkit native addon ${file} failed to load: ${(err as Error).message}; rebuild it with \`npm run build\``, {
      cause: err,
    });
  }
  const info = mod.exports.info();
  if (info.abi !== EXPECTED_ADDON_ABI) {
    throw new FailedPreconditionError(
      `podkit native addon ${file} has ABI ${info.abi}, this code expects ${EXPECTED_ADDON_ABI}: rebuild it with \`npm run build\``,
    );
  }
  cached = mod.exports;
  return cached as CoreBinding & T;
}

/** Absolute path of a helper executable (`podkit-init`, `podkit-pause`...). */
export function helperPath(name: string): string {
  const dirs = nativeDirs();
  const file = dirs.map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
  if (!file) throw missing(`helper ${name}`, dirs);
  return file;
}

/** Facts about the loaded addon (ABI, protocol version, N-API version, kernel release). */
export function nativeInfo(): NativeInfo {
  return loadNative().info();
}

/** A trivial native function that proves the addon builds and loads. */
export function nativeAdd(a: number, b: number): number {
  return loadNative().add(a, b);
}

/** For tests: forget the loaded binding so the next call searches again (the .node stays mapped). */
export function resetNativeCacheForTests(): void {
  cached = undefined;
}

// ---- fds over unix sockets, seccomp user notification (native/src/addon/unixfd.cc) ---------------

import { native, nativeSync } from './native-errors';

/** One seccomp user notification (`struct seccomp_notif`); `id` and `args` are 64-bit, as decimal strings. */
export interface SeccompNotification {
  id: string;
  pid: number;
  /** The syscall number (of `arch`). */
  nr: number;
  /** AUDIT_ARCH_* of the syscall. */
  arch: number;
  args: string[];
}

export interface UnixFdBinding {
  unixSendFds(opts: { path: string; payload: string; fds?: number[] }): Promise<void>;
  unixListen(path: string): number;
  unixAcceptFds(listenFd: number, timeoutMs: number, untilEof?: boolean): Promise<{ payload: string; fds: number[] } | null>;
  seccompNotifRecv(listenerFd: number, timeoutMs: number): Promise<SeccompNotification | { closed: true } | null>;
  seccompNotifSend(listenerFd: number, resp: { id: string; error?: number; val?: number; continue?: boolean }): void;
  seccompNotifIdValid(listenerFd: number, id: string): boolean;
}

const unixFd = (): UnixFdBinding => loadNative<UnixFdBinding>();

/**
 * Connects to the AF_UNIX stream socket at `path`, sends `payload` with `fds` attached (SCM_RIGHTS,
 * first sendmsg only) and closes the connection: how the runtime-spec's "container process state"
 * reaches a seccomp agent at `listenerPath`.
 */
export async function unixSendFds(path: string, payload: string, fds: number[] = []): Promise<void> {
  await native(unixFd().unixSendFds({ path, payload, fds }), `send to ${path}`);
}

/** A listening AF_UNIX stream socket bound at `path` (close-on-exec); the caller closes it and removes the file. */
export function unixListen(path: string): number {
  return nativeSync(() => unixFd().unixListen(path), `listen on ${path}`);
}

/**
 * Accepts one connection on `listenFd` and reads it to its end (`untilEof`; else only its first
 * message, for peers that keep the connection open, as runc 1.1 does): the payload and the fds that
 * came with it (close-on-exec; the caller owns them). Null when nobody connected within `timeoutMs`.
 * Waits on its own thread.
 */
export async function unixAcceptFds(listenFd: number, timeoutMs: number, untilEof = true): Promise<{ payload: string; fds: number[] } | null> {
  return native(unixFd().unixAcceptFds(listenFd, timeoutMs, untilEof), 'accept on a unix socket');
}

/**
 * The next notification of a seccomp listener; `{closed: true}` once no process uses the filter any
 * more; null when none came within `timeoutMs`. Waits on its own thread.
 */
export async function seccompNotifRecv(listenerFd: number, timeoutMs: number): Promise<SeccompNotification | { closed: true } | null> {
  return native(unixFd().seccompNotifRecv(listenerFd, timeoutMs), 'receive a seccomp notification');
}

/**
 * Answers a notification: the syscall fails with `error` (a positive errno), or returns `val`, or
 * (`continue`) runs as if allowed.
 */
export function seccompNotifSend(listenerFd: number, resp: { id: string; error?: number; val?: number; continue?: boolean }): void {
  nativeSync(() => unixFd().seccompNotifSend(listenerFd, resp), `answer seccomp notification ${resp.id}`);
}

/** Whether notification `id` still waits for an answer (false once its task was interrupted or died). */
export function seccompNotifIdValid(listenerFd: number, id: string): boolean {
  return nativeSync(() => unixFd().seccompNotifIdValid(listenerFd, id), `check seccomp notification ${id}`);
}

// ---- bpf: cgroup v2 device programs (native/src/addon/bpf.cc) ----------------------------------------

/** The addon's bpf(2) calls; synchronous, as bpf() on these commands never waits for I/O. */
export interface BpfBinding {
  bpfProgLoad(opts: { insns: Buffer; license?: string }): { fd: number; log: string };
  bpfProgAttach(opts: { cgroup: string; progFd: number; flags?: number }): void;
  bpfProgDetach(opts: { cgroup: string; progFd: number }): void;
  bpfProgQuery(opts: { cgroup: string }): number[];
  bpfProgGetFdById(id: number): number;
}

/** BPF_F_ALLOW_MULTI: several programs on one cgroup, all of which must allow (runc attaches so). */
export const BPF_F_ALLOW_MULTI = 2;

const bpf = (): BpfBinding => loadNative<BpfBinding>();

/** Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (8-byte `struct bpf_insn`s); returns its fd (close-on-exec). */
export function bpfLoadDeviceProgram(insns: Buffer): { fd: number; log: string } {
  return nativeSync(() => bpf().bpfProgLoad({ insns }), 'load the cgroup device program');
}

/** Attaches a loaded device program to the cgroup folder `cgroup` (BPF_CGROUP_DEVICE). */
export function bpfAttachDeviceProgram(cgroup: string, progFd: number, flags = BPF_F_ALLOW_MULTI): void {
  nativeSync(() => bpf().bpfProgAttach({ cgroup, progFd, flags }), `attach the device program to ${cgroup}`);
}

/** Detaches one device program (by an fd of it) from the cgroup folder `cgroup`. */
export function bpfDetachDeviceProgram(cgroup: string, progFd: number): void {
  nativeSync(() => bpf().bpfProgDetach({ cgroup, progFd }), `detach a device program from ${cgroup}`);
}

/** The ids of the device programs attached to the cgroup folder itself. */
export function bpfQueryDevicePrograms(cgroup: string): number[] {
  return nativeSync(() => bpf().bpfProgQuery({ cgroup }), `list the device programs of ${cgroup}`);
}

/** A new fd (close-on-exec) of the loaded program with this id. */
export function bpfProgramFd(id: number): number {
  return nativeSync(() => bpf().bpfProgGetFdById(id), `open bpf program ${id}`);
}

// ---- linux.netDevices (native/src/addon/netdev.cc) ------------------------------------------------

export interface MovedNetDevice {
  host: string;
  /** Its name in the target namespace (a "%d" template completed). */
  name: string;
  index: number;
  /** How many permanent global addresses were carried over. */
  addresses: number;
}

interface NetdevBinding {
  netdevMove(opts: { to: string; from?: string; devices: { host: string; name: string }[] }): Promise<MovedNetDevice[]>;
}

/**
 * Moves network devices by name from the network namespace `from` (an nsfs file; default: this
 * process's) into `to`, renaming them, keeping their permanent global addresses, and setting them up.
 */
export function netdevMove(to: string, devices: { host: string; name: string }[], from?: string): Promise<MovedNetDevice[]> {
  return native(loadNative<NetdevBinding>().netdevMove({ to, devices, ...(from ? { from } : {}) }), 'move network devices');
}

/**
 * Process helpers: spawning `podkit-init` with its plan channel, pidfd handles (open, signal, watch
 * for exit on a native thread), the exec FIFO, and process identity (start time, pidfd inode) so a
 * reused pid is never mistaken for a container's process.
 */
import * as fs from 'node:fs';
import { invalidField, NotFoundError } from '@podkit/errdefs';
import { helperPath, loadNative } from './native';
import { native, nativeSync } from './native-errors';

export interface ExitStatus {
  /** Exit code, or null when killed by a signal or when the status is unknown. */
  exitCode: number | null;
  /** Terminating signal number, or null. */
  signal: number | null;
  /** False when the process was not our child, so its status could not be read. */
  reaped: boolean;
}

export interface ProcessBinding {
  spawnInit(opts: { helper: string; stdin?: number; stdout?: number; stderr?: number; extraFds?: number[] }): Promise<{ pid: number; sock: number }>;
  channelSend(sock: number, message: string, fds?: number[]): Promise<void>;
  /** Sends without blocking when the message fits one datagram and the buffer has room; false otherwise. */
  channelTrySend(sock: number, message: string, fds?: number[]): boolean;
  channelRecv(sock: number): Promise<{ message: string | null; fds: number[] }>;
  waitPid(pid: number): Promise<ExitStatus>;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  startFifo(opts: { path: string; pidfd: number }): Promise<void>;
  watchExit(pidfd: number, cb: (s: ExitStatus) => void): () => void;
  setChildSubreaper(on: boolean): void;
}

export const processBinding = (): ProcessBinding => loadNative<ProcessBinding>();

/** A message channel to a spawned podkit-init (JSON messages with attached fds). */
export class InitChannel {
  private closed = false;
  constructor(readonly sock: number) {}

  async send(message: object, fds: number[] = []): Promise<void> {
    const text = JSON.stringify(message);
    // Most messages leave at once, on this thread (a send that cannot block); the rest on the pool.
    if (nativeSync(() => processBinding().channelTrySend(this.sock, text, fds), 'plan channel')) return;
    await native(processBinding().channelSend(this.sock, text, fds), 'plan channel');
  }

  /** The next message, or null at end of stream (the helper exited, or execve closed the channel). */
  async recv(): Promise<{ message: Record<string, unknown> | null; fds: number[] }> {
    const r = await native(processBinding().channelRecv(this.sock), 'plan channel');
    return { message: r.message === null ? null : (JSON.parse(r.message) as Record<string, unknown>), fds: r.fds };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.sock);
  }
}

export interface SpawnInitOptions {
  /** fds to give the process as its stdin/stdout/stderr (default: this process's own). */
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** fds of this process the container process gets as 3, 4, ... (`--preserve-fds`). */
  extraFds?: number[];
}

/** Spawns podkit-init (posix_spawn, never fork) and returns its pid and plan channel. */
export async function spawnInit(opts: SpawnInitOptions = {}): Promise<{ pid: number; channel: InitChannel }> {
  const r = await native(processBinding().spawnInit({ helper: helperPath('podkit-init'), ...opts }), 'spawn podkit-init');
  return { pid: r.pid, channel: new InitChannel(r.sock) };
}

/** Reaps a child process (blocking in the pool; for children about to exit). */
export function waitPid(pid: number): Promise<ExitStatus> {
  return native(processBinding().waitPid(pid), `wait for pid ${pid}`);
}

export function pidfdOpen(pid: number): number {
  return nativeSync(() => processBinding().pidfdOpen(pid), `open pid ${pid}`);
}

export function pidfdSignal(pidfd: number, signal: number): void {
  nativeSync(() => processBinding().pidfdSendSignal(pidfd, signal), `send signal ${signal}`);
}

/** The pidfd's inode: unique per process for the life of the boot on kernels with pidfs (6.9+). */
export function pidfdInode(pidfd: number): string {
  return fs.fstatSync(pidfd, { bigint: true }).ino.toString();
}

/**
 * Makes this process the subreaper of its descendants: a container whose creating CLI exited is
 * re-parented here (not to PID 1), and `watchExit` then reaps it, as containerd's shim does.
 */
export function setChildSubreaper(on = true): void {
  nativeSync(() => processBinding().setChildSubreaper(on), 'set child subreaper');
}

/** Waits for a process to exit on a native thread; `cancel()` stops waiting. */
export function watchExit(pidfd: number): { exited: Promise<ExitStatus>; cancel: () => void } {
  let cancel: () => void = () => undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    cancel = nativeSync(() => processBinding().watchExit(pidfd, resolve), 'watch process exit');
  });
  return { exited, cancel };
}

/** Opens the exec FIFO for reading, which lets the blocked init exec. Fails if the init exits first. */
export function releaseExecFifo(path: string, pidfd: number): Promise<void> {
  return native(processBinding().startFifo({ path, pidfd }), 'start');
}

export interface ProcStat {
  /** Single-letter state (R, S, D, Z, T...). */
  state: string;
  /** Start time in clock ticks since boot (field 22): with the pid, identifies the process. */
  startTime: string;
}

/** Reads /proc/<pid>/stat; null when the process does not exist. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', startTime: rest[19] ?? '0' };
}

/** A signal by name (`KILL`, `SIGKILL`) or number (`9`). */
export function parseSignal(value: string | number, field = 'signal'): number {
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0 || n > 64) throw invalidField(field, `signal number ${value} is out of range 1-64`);
    return n;
  }
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith('SIGRTMIN') ? 34 + off : 64 - off;
    if (n < 34 || n > 64) throw invalidField(field, `unknown signal "${value}"`);
    return n;
  }
  // node:os is loaded only here: `run` and `create` never parse a signal name.
  const { constants } = require('node:os') as typeof import('node:os');
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw invalidField(field, `unknown signal "${value}"`);
  return n;
}

/** Throws NotFound unless the pid is alive and is the same process (start time) that was recorded. */
export function checkProcessIdentity(pid: number, startTime: string): ProcStat {
  const st = readProcStat(pid);
  if (!st || st.startTime !== startTime) throw new NotFoundError(`process ${pid} no longer exists`);
  return st;
}

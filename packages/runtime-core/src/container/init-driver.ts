/**
 * Runs one podkit-init through the plan protocol (see native/src/init/main.cc): send the plan, get the
 * container process's pid and pidfd, let the caller place it in its cgroups, release it, and wait for
 * `ready` (create) or for the channel to close at execve (exec). Errors reported by the helper become
 * errdefs classes here, with the helper's phase.
 */
import * as fs from 'node:fs';
import { FailedPreconditionError, fromErrno, InternalError } from '@podkit/errdefs';
import type { LinuxIDMapping } from '@podkit/oci-spec';
import { PLAN_PROTOCOL_VERSION, type Plan, type PlanUserns } from '../plan/types';
import { pidfdSignal, spawnInit, waitPid, watchExit, type InitChannel, type SpawnInitOptions } from '../sys/process';

export interface InitResult {
  pid: number;
  /** A pidfd of the container process (close-on-exec); the caller owns it. */
  pidfd: number;
  warnings: string[];
}

function reportError(m: Record<string, unknown>): Error {
  const phase = String(m['phase'] ?? '');
  // A hook that exited non-zero (ECANCELED from the init) fails the operation's precondition.
  if (phase === 'hooks' && m['errno'] === 'ECANCELED') return new FailedPreconditionError(`podkit-init (hooks): ${String(m['message'] ?? '')}`);
  return fromErrno(
    { syscall: String(m['syscall'] ?? ''), errno: String(m['errno'] ?? ''), message: String(m['message'] ?? ''), phase },
    `podkit-init${phase ? ` (${phase})` : ''}`,
  );
}

/** "containerID hostID size" lines, as /proc/<pid>/uid_map takes them (in one write). */
export function idMapText(maps: readonly LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/**
 * Writes the maps of the new user namespace of process `pid` (stopped at the `child` sync point):
 * setgroups first (the kernel requires "deny" there before an unprivileged writer's gid_map), then
 * uid_map and gid_map, each in one write. Errors name the config field.
 */
export function writeIdMaps(pid: number, u: PlanUserns): void {
  const write = (file: string, text: string, field: string) => {
    const where = `/proc/${pid}/${file}`;
    let written = 0;
    try {
      const fd = fs.openSync(where, 'w');
      try {
        // One write(2): the kernel refuses a map written in pieces.
        written = fs.writeSync(fd, text);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw fromErrno({ syscall: 'write', errno: e.code ?? '', message: `${field}: writing ${where}: ${e.message}`, phase: 'user-namespace' }, 'user namespace');
    }
    if (written !== Buffer.byteLength(text)) throw new InternalError(`${field}: short write to ${where}`);
  };
  if (u.setgroups === 'deny') write('setgroups', 'deny', '/linux/gidMappings');
  write('uid_map', idMapText(u.uidMappings ?? []), '/linux/uidMappings');
  write('gid_map', idMapText(u.gidMappings ?? []), '/linux/gidMappings');
}

export interface RunInitOptions {
  stdio?: SpawnInitOptions;
  /**
   * Sync point: put the process in its cgroups (before it unshares its cgroup namespace), run the
   * runtime's createRuntime hooks; returns extra fields for `continue` (the hook states the init uses).
   */
  place?: (pid: number) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
  /** Runs while the init sets itself up (after `continue`): work that overlaps with it, e.g. a durable write. */
  overlap?: (pid: number, pidfd: number) => void;
  /**
   * cgroup v1: fds of the container's `tasks` files, opened by the caller; they go with `continue` and
   * the init joins them itself (native/src/init/cgjoin.h: no RCU grace period, unlike a cgroup.procs
   * write). Closed here once sent. Called after `place`.
   */
  cgroupJoin?: () => number[];
  /**
   * A helper the caller spawned already (spawnInit), so that its start overlaps with the caller's own
   * work (cgroups, the FIFO); runInit owns it from here. Else runInit spawns one with `stdio`.
   */
  spawned?: Promise<{ pid: number; channel: InitChannel }>;
  /**
   * seccomp SCMP_ACT_NOTIFY: the init loaded its filter and handed back the listener; send it to the
   * agent (container/seccomp-notify.ts). The fd is closed here afterwards; the init waits meanwhile.
   */
  seccompListener?: (pid: number, listenerFd: number) => Promise<void>;
}

/** The init's `seccompListener` message: give the fd to the agent, then let the init go on. */
async function handOverListener(channel: InitChannel, fds: number[], pid: number, opts: RunInitOptions): Promise<void> {
  try {
    if (fds.length !== 1) throw new InternalError(`podkit-init: a seccomp listener message with ${fds.length} fds`);
    if (!opts.seccompListener) throw new InternalError('podkit-init handed back a seccomp listener nobody expected');
    await opts.seccompListener(pid, fds[0] as number);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  await channel.send({ type: 'seccompDone' });
}

export async function runInit(plan: Plan, opts: RunInitOptions): Promise<InitResult> {
  const { pid: helperPid, channel } = await (opts.spawned ?? spawnInit(opts.stdio));
  const reaped = waitPid(helperPid).catch(() => undefined);
  let pid = 0;
  let pidfd = -1;
  const warnings: string[] = [];
  try {
    await channel.send({ type: 'plan', version: PLAN_PROTOCOL_VERSION, plan });
    const first = await channel.recv();
    if (first.message === null) throw new InternalError('podkit-init exited before reporting the container process');
    if (first.message['type'] === 'error') throw reportError(first.message);
    if (first.message['type'] !== 'child' || first.fds.length !== 1) throw new InternalError(`podkit-init: unexpected message ${JSON.stringify(first.message)}`);
    pid = Number(first.message['pid']);
    pidfd = first.fds[0] as number;
    // A new user namespace exists now, without maps: the process runs as nobody until they are written.
    if (plan.userns && plan.clone.includes('user')) writeIdMaps(pid, plan.userns);
    // Before the init unshares its cgroup namespace, so the namespace's root is its own cgroup.
    const extra = (await opts.place?.(pid)) ?? {};
    const join = opts.cgroupJoin?.() ?? [];
    try {
      await channel.send({ ...extra, type: 'continue' }, join);
    } finally {
      for (const fd of join) fs.closeSync(fd);
    }
    opts.overlap?.(pid, pidfd);
    for (;;) {
      const { message, fds } = await channel.recv();
      if (message?.['type'] === 'seccompListener') {
        await handOverListener(channel, fds, pid, opts);
        continue;
      }
      for (const fd of fds) fs.closeSync(fd);
      if (message === null) {
        // execve closed the close-on-exec channel: the exec'd process runs.
        if (plan.mode === 'exec') break;
        throw new InternalError('podkit-init exited without reporting ready');
      }
      if (message['type'] === 'warning') warnings.push(String(message['message']));
      else if (message['type'] === 'error') throw reportError(message);
      else if (message['type'] === 'ready') break;
      else throw new InternalError(`podkit-init: unexpected message ${JSON.stringify(message)}`);
    }
    return { pid, pidfd, warnings };
  } catch (err) {
    if (pidfd >= 0) {
      // The process is our child (CLONE_PARENT): kill it and reap it before giving up.
      try {
        pidfdSignal(pidfd, 9);
      } catch {
        /* already gone */
      }
      await watchExit(pidfd).exited;
      fs.closeSync(pidfd);
    }
    throw err;
  } finally {
    channel.close();
    await reaped;
  }
}

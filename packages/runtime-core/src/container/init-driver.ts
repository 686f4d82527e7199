/**
 * Runs one podkit-init through the plan protocol (see native/src/init/main.cc): send the plan, get the
 * container process's pid and pidfd, let the caller place it in its cgroups, release it, and wait for
 * `ready` (create) or for the channel to close at execve (exec). Errors reported by the helper become
 * errdefs classes here, with the helper's phase.
 */
import * as fs from 'node:fs';
import { FailedPreconditionError, fromErrno, InternalError } from '@podkit/errdefs';
import { PLAN_PROTOCOL_VERSION, type Plan } from '../plan/types';
import { pidfdSignal, spawnInit, waitPid, watchExit, type SpawnInitOptions } from '../sys/process';

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

export interface RunInitOptions {
  stdio?: SpawnInitOptions;
  /**
   * Sync point: put the process in its cgroups (before it unshares its cgroup namespace), run the
   * runtime's createRuntime hooks; returns extra fields for `continue` (the hook states the init uses).
   */
  place?: (pid: number) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
  /** Runs while the init sets itself up (after `continue`): work that overlaps with it, e.g. a durable write. */
  overlap?: (pid: number, pidfd: number) => void;
}

export async function runInit(plan: Plan, opts: RunInitOptions): Promise<InitResult> {
  const { pid: helperPid, channel } = await spawnInit(opts.stdio);
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
    // Before the init unshares its cgroup namespace, so the namespace's root is its own cgroup.
    const extra = (await opts.place?.(pid)) ?? {};
    await channel.send({ ...extra, type: 'continue' });
    opts.overlap?.(pid, pidfd);
    for (;;) {
      const { message, fds } = await channel.recv();
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

/**
 * `kill`: signal the container's init through a pidfd, or with `all` every process of its cgroup:
 * the cgroup is frozen while it is enumerated and signalled (so no process forks past the signal),
 * then thawed (as runc's `kill --all` on cgroup v1).
 */
import * as fs from 'node:fs';
import { FailedPreconditionError } from '@podkit/errdefs';
import { backendOf } from '../cgroups/backend';
import { pidfdSignal } from '../sys/process';
import { can } from './state';
import type { StateStore } from './store';

export async function kill(store: StateStore, id: string, signal: number, opts: { all?: boolean } = {}): Promise<void> {
  const rec = store.load(id);
  const status = store.status(rec);
  // "container not running" is the text containerd's shim matches to treat a kill of an exited task as NotFound.
  if (!can.kill(status)) throw new FailedPreconditionError(`container not running: "${id}" is ${status}`);
  if (!opts.all) {
    const pidfd = store.openProcess(rec);
    try {
      pidfdSignal(pidfd, signal);
    } finally {
      fs.closeSync(pidfd);
    }
    return;
  }
  const cg = backendOf(rec.cgroupPaths);
  const wasFrozen = cg.frozen(rec.cgroupPaths);
  const canFreeze = cg.canFreeze(rec.cgroupPaths);
  if (canFreeze && !wasFrozen) await cg.setFrozen(rec.cgroupPaths, true);
  try {
    for (const pid of cg.pids(rec.cgroupPaths)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  } finally {
    if (canFreeze && !wasFrozen) await cg.setFrozen(rec.cgroupPaths, false);
  }
}

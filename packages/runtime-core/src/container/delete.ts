/** `delete`: stop what is left (created, or running with force), then remove cgroups and state. */
import * as fs from 'node:fs';
import { FailedPreconditionError, isDataLoss, isNotFound } from '@podkit/errdefs';
import { backendOf } from '../cgroups/backend';
import { removeIntelRdt, type ResctrlHost } from '../intelrdt/resctrl';
import { pidfdSignal, watchExit, type ExitStatus } from '../sys/process';
import { hookState, runHooksWarn } from './hooks';
import { can } from './state';
import type { StateRecord, StateStore } from './store';

export interface DeleteOptions {
  force?: boolean;
  /** When the caller already waits for the init (it is its child), the exit to wait for instead. */
  exited?: Promise<ExitStatus>;
  /** (rdt) Intel RDT: how resctrl is reached (default: the real files; tests: a fake tree). */
  resctrl?: ResctrlHost;
}

function killAll(rec: StateRecord): void {
  for (const pid of backendOf(rec.cgroupPaths).pids(rec.cgroupPaths)) {
    try {
      process.kill(pid, 9);
    } catch {
      /* exited meanwhile */
    }
  }
}

/** A pidfd of the init, or undefined when it exited between the status check and now. */
function openIfAlive(store: StateStore, rec: StateRecord): number | undefined {
  try {
    return store.openProcess(rec);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Returns warnings: poststop hooks that failed (the container is deleted anyway, as runc). */
export async function deleteContainer(store: StateStore, id: string, opts: DeleteOptions = {}): Promise<string[]> {
  let rec: StateRecord;
  try {
    rec = store.load(id);
  } catch (err) {
    // A folder without a record: a `create` that died before writing it, or a record torn by a machine
    // crash. --force clears the name, and (as runc) succeeds when there is nothing at all: containerd's
    // shim force-deletes during its cleanup whether or not the container is still there.
    if (opts.force && (isNotFound(err) || isDataLoss(err))) {
      store.remove(id);
      return [];
    }
    throw err;
  }
  const status = store.status(rec);
  if (!(opts.force ? can.forceDelete(status) : can.delete(status))) {
    throw new FailedPreconditionError(`cannot delete container "${id}" that is ${status}${status === 'running' || status === 'paused' ? ' (use --force)' : ''}`);
  }
  const pidfd = status === 'created' || status === 'running' || status === 'paused' ? openIfAlive(store, rec) : undefined;
  if (pidfd !== undefined) {
    try {
      const exited = opts.exited ?? watchExit(pidfd).exited;
      try {
        pidfdSignal(pidfd, 9);
      } catch (err) {
        if (!isNotFound(err)) throw err; // exited meanwhile
      }
      if (!rec.ownPidNamespace) killAll(rec);
      // Frozen tasks die only once thawed.
      if (status === 'paused') await backendOf(rec.cgroupPaths).setFrozen(rec.cgroupPaths, false);
      await exited;
    } finally {
      fs.closeSync(pidfd);
    }
  } else if (!rec.ownPidNamespace || status === 'creating') {
    // Nothing to wait on by pidfd: whatever is left in the cgroups (a half-created init) is killed.
    killAll(rec);
  }
  await backendOf(rec.cgroupPaths).remove(rec.cgroupPaths);
  // (rdt) The Intel RDT group, if create made it and no other container still uses it (one joined stays).
  const rdtWarning = rec.intelRdt ? removeIntelRdt(rec.intelRdt, opts.resctrl?.fs) : undefined;
  store.remove(id);
  const warnings = rdtWarning ? [rdtWarning] : [];
  if (!rec.hooks?.poststop?.length) return warnings;
  return [...warnings, ...(await runHooksWarn(rec.hooks, 'poststop', hookState(rec.id, 'stopped', 0, rec.bundle, rec.annotations)))];
}

/** `kill`: signal the container's init through a pidfd (or, with `all`, every process of its cgroup). */
import * as fs from 'node:fs';
import { FailedPreconditionError } from '@podkit/errdefs';
import { cgroupPids } from '../cgroups/v1';
import { pidfdSignal } from '../sys/process';
import { can } from './state';
import type { StateStore } from './store';

export function kill(store: StateStore, id: string, signal: number, opts: { all?: boolean } = {}): void {
  const rec = store.load(id);
  const status = store.status(rec);
  if (!can.kill(status)) throw new FailedPreconditionError(`container "${id}" is not running (${status})`);
  const pidfd = store.openProcess(rec);
  try {
    pidfdSignal(pidfd, signal);
  } finally {
    fs.closeSync(pidfd);
  }
  if (opts.all) {
    for (const pid of cgroupPids(rec.cgroupPaths)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  }
}

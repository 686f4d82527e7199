/** `start`: release the init blocked on the exec FIFO; fails if the container is not created or its init died. */
import * as fs from 'node:fs';
import { FailedPreconditionError } from '@podkit/errdefs';
import { releaseExecFifo } from '../sys/process';
import { hookState, runHooksWarn } from './hooks';
import { can } from './state';
import type { StateRecord, StateStore } from './store';

/** Returns warnings: poststart hooks that failed (the container runs anyway, as runc). */
export async function start(store: StateStore, id: string): Promise<string[]> {
  const rec = store.load(id);
  const status = store.status(rec);
  if (!can.start(status)) throw new FailedPreconditionError(`cannot start a container that is ${status}`);
  const pidfd = store.openProcess(rec);
  try {
    return await startCreated(store, rec, pidfd);
  } finally {
    fs.closeSync(pidfd);
  }
}

/**
 * `start` of a container this process has just created and holds the init's pidfd of (`podrun run`):
 * no second look at its record and process. Fails as `start` does if the init died meanwhile.
 */
export async function startCreated(store: StateStore, rec: StateRecord, pidfd: number): Promise<string[]> {
  await releaseExecFifo(store.fifo(rec.id), pidfd);
  try {
    fs.unlinkSync(store.fifo(rec.id));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!rec.hooks?.poststart?.length) return [];
  return runHooksWarn(rec.hooks, 'poststart', hookState(rec.id, 'running', rec.pid, rec.bundle, rec.annotations));
}

/** pause/resume (cgroup freezer), ps, update (resource limits) and stats of a live container. */
import { FailedPreconditionError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import * as cg from '../cgroups/v1';
import { can, type Status } from './state';
import type { StateRecord, StateStore } from './store';

function live(store: StateStore, id: string, ok: (s: Status) => boolean, verb: string): StateRecord {
  const rec = store.load(id);
  const status = store.status(rec);
  if (!ok(status)) {
    // runc's wording, which containerd's shim recognises for stopped containers.
    const why = status === 'stopped' || status === 'creating' ? 'container not running' : `container is ${status}`;
    throw new FailedPreconditionError(`cannot ${verb} container "${id}": ${why}`);
  }
  return rec;
}

export async function pause(store: StateStore, id: string): Promise<void> {
  await cg.setFrozen(live(store, id, can.pause, 'pause').cgroupPaths, true);
}

export async function resume(store: StateStore, id: string): Promise<void> {
  await cg.setFrozen(live(store, id, can.resume, 'resume').cgroupPaths, false);
}

export function pids(store: StateStore, id: string): number[] {
  return cg.cgroupPids(live(store, id, can.inspect, 'list the processes of').cgroupPaths);
}

export function update(store: StateStore, id: string, resources: LinuxResources): void {
  const rec = live(store, id, can.inspect, 'update');
  cg.applyResources(rec.cgroupPaths, resources);
}

export function stats(store: StateStore, id: string): Record<string, unknown> {
  return cg.stats(live(store, id, can.inspect, 'read the stats of').cgroupPaths);
}

/** The OOM-kill counter of the container's memory cgroup (undefined without one). */
export function oomKills(store: StateStore, id: string): number | undefined {
  return cg.oomKillCount(store.load(id).cgroupPaths);
}

/** pause/resume (cgroup freezer), ps, update (resource limits) and stats of a live container. */
import { FailedPreconditionError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { backendOf, hostBackend, resourcesUnavailable } from '../cgroups/backend';
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
  const p = live(store, id, can.pause, 'pause').cgroupPaths;
  await backendOf(p).setFrozen(p, true);
}

export async function resume(store: StateStore, id: string): Promise<void> {
  const p = live(store, id, can.resume, 'resume').cgroupPaths;
  await backendOf(p).setFrozen(p, false);
}

export function pids(store: StateStore, id: string): number[] {
  const p = live(store, id, can.inspect, 'list the processes of').cgroupPaths;
  return backendOf(p).pids(p);
}

export function update(store: StateStore, id: string, resources: LinuxResources): void {
  const rec = live(store, id, can.inspect, 'update');
  const backend = backendOf(rec.cgroupPaths);
  const unavailable = resourcesUnavailable(hostBackend().layout, backend, resources);
  if (unavailable) throw unavailable;
  backend.apply(rec.cgroupPaths, resources);
}

export function stats(store: StateStore, id: string): Record<string, unknown> {
  const p = live(store, id, can.inspect, 'read the stats of').cgroupPaths;
  return backendOf(p).stats(p);
}

/** The OOM-kill counter of the container's memory cgroup (undefined without one). */
export function oomKills(store: StateStore, id: string): number | undefined {
  const p = store.load(id).cgroupPaths;
  return backendOf(p).oomKills(p);
}

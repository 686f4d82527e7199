/** `state` and `list`, in runc's JSON shapes. */
import * as fs from 'node:fs';
import { ociRuntime } from './oci';
import type { Status } from './state';
import type { StateRecord, StateStore } from './store';

/** runc's `state` output (the OCI state plus rootfs, created and owner). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function describe(store: StateStore, rec: StateRecord): ContainerState {
  const status = store.status(rec);
  return {
    ociVersion: ociRuntime().OCI_VERSION,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: '',
    ...(rec.annotations ? { annotations: rec.annotations } : {}),
  };
}

export function state(store: StateStore, id: string): ContainerState {
  return describe(store, store.load(id));
}

/** `list` entries: as `state`, with the owner's user name (runc looks up the state folder's owner). */
export function list(store: StateStore): ContainerState[] {
  const out: ContainerState[] = [];
  for (const id of store.ids()) {
    try {
      const uid = fs.statSync(store.dir(id)).uid;
      out.push({ ...describe(store, store.load(id)), owner: uid === 0 ? 'root' : `#${uid}` });
    } catch {
      /* deleted meanwhile */
    }
  }
  return out;
}

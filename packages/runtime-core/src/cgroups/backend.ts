/**
 * One small interface over the cgroup versions, chosen at run time: v2 when the host runs only the
 * unified hierarchy, v1 otherwise (a hybrid host such as this machine keeps v1: its cgroup2 mount
 * holds only what no v1 hierarchy claimed). A container's cgroups are stored in its state record as
 * `cgroupPaths`: one folder per v1 hierarchy, or `{ unified: <dir> }` on v2, which also tells later
 * verbs which backend the container was made with.
 */
import * as path from 'node:path';
import { DeadlineExceededError, toPodkitError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { hostHugePageSizes } from './runc-stats';
import * as v1 from './v1';
import {
  applyResourcesV2,
  cgroupPathV2,
  createCgroupV2,
  hostLayout,
  hugetlbAvailable,
  isFrozenV2,
  realCgroupFs,
  requiredControllers,
  setFrozenV2,
  runcStatsV2,
  statsV2,
  type CgroupFs,
  type CgroupLayout,
  type UnifiedMount,
} from './v2';

/** The key of the one cgroup folder of a v2 container in `cgroupPaths`. */
export const UNIFIED_KEY = 'unified';

export type Paths = Record<string, string>;

export interface CgroupBackend {
  readonly version: 1 | 2;
  /** The container's cgroups for a config's cgroupsPath (validated; nothing is created). */
  paths(cgroupsPath: string | undefined, id: string): Paths;
  /** What a `cgroup` mount in the container shows: v1 hierarchies (name, folder) or the v2 folder. */
  mounts(paths: Paths): { v1: { name: string; source: string }[] } | { v2: string };
  /** Creates the cgroups and writes the resources; undoes what it created on failure. */
  create(paths: Paths, resources: LinuxResources | undefined): void;
  apply(paths: Paths, resources: LinuxResources): void;
  place(paths: Paths, pid: number): void;
  pids(paths: Paths): number[];
  canFreeze(paths: Paths): boolean;
  frozen(paths: Paths): boolean;
  setFrozen(paths: Paths, frozen: boolean): Promise<void>;
  stats(paths: Paths): Record<string, unknown>;
  oomKills(paths: Paths): number | undefined;
  remove(paths: Paths): Promise<void>;
}

export const v1Backend: CgroupBackend = {
  version: 1,
  paths: (cgroupsPath, id) => v1.cgroupPaths(cgroupsPath, id),
  mounts: (paths) => ({ v1: v1.hierarchies().flatMap((h) => (paths[h.name] ? [{ name: h.name, source: paths[h.name] as string }] : [])) }),
  create: (paths, r) => {
    v1.createCgroups(paths);
    v1.applyResources(paths, r);
  },
  apply: (paths, r) => v1.applyResources(paths, r),
  place: (paths, pid) => v1.placeProcess(paths, pid),
  pids: (paths) => v1.cgroupPids(paths),
  canFreeze: (paths) => paths['freezer'] !== undefined,
  frozen: (paths) => v1.freezerState(paths) !== 'THAWED',
  setFrozen: (paths, frozen) => v1.setFrozen(paths, frozen),
  stats: (paths) => v1.stats(paths),
  oomKills: (paths) => v1.oomKillCount(paths),
  remove: (paths) => v1.removeCgroups(paths),
};

function dirOf(paths: Paths): string {
  return paths[UNIFIED_KEY] as string;
}

/** The v2 backend; `unified` (this process's place in the unified hierarchy) is needed to make paths and cgroups. */
export function v2Backend(unified: UnifiedMount | undefined, cfs: CgroupFs = realCgroupFs): CgroupBackend {
  const need = (): UnifiedMount => {
    if (!unified) throw new Error('cgroup v2 backend: no unified mount was given');
    return unified;
  };
  const remove = async (paths: Paths, timeoutMs = 5000): Promise<void> => {
    const dir = dirOf(paths);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        cfs.rmdir(dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY') throw toPodkitError(err, `remove cgroup ${dir}`);
        if (Date.now() > deadline) throw new DeadlineExceededError(`cgroup ${dir} still has processes after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  return {
    version: 2,
    paths: (cgroupsPath, id) => ({ [UNIFIED_KEY]: cgroupPathV2(cgroupsPath, id, need()) }),
    mounts: (paths) => ({ v2: dirOf(paths) }),
    create: (paths, r) => {
      const u = need();
      const created = createCgroupV2(dirOf(paths), path.join(u.mountpoint, u.own), requiredControllers(r), cfs);
      try {
        applyResourcesV2(dirOf(paths), r, cfs);
      } catch (err) {
        for (const d of [...created].reverse()) {
          try {
            cfs.rmdir(d);
          } catch {
            /* best effort: the original error matters */
          }
        }
        throw err;
      }
    },
    apply: (paths, r) => applyResourcesV2(dirOf(paths), r, cfs),
    place: (paths, pid) => {
      try {
        cfs.write(dirOf(paths), 'cgroup.procs', String(pid));
      } catch (err) {
        throw toPodkitError(err, `cgroup: place ${pid} in ${dirOf(paths)}`);
      }
    },
    pids: (paths) => {
      try {
        return cfs.read(dirOf(paths), 'cgroup.procs').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
    canFreeze: (paths) => cfs.exists(dirOf(paths), 'cgroup.freeze'),
    frozen: (paths) => {
      try {
        return isFrozenV2(dirOf(paths), cfs);
      } catch {
        return false;
      }
    },
    setFrozen: (paths, frozen) => setFrozenV2(dirOf(paths), frozen, 5000, cfs),
    stats: (paths) => runcStatsV2(dirOf(paths), cfs, hostHugePageSizes()),
    oomKills: (paths) => statsV2(dirOf(paths), cfs).memory.oomKills,
    remove: (paths) => remove(paths),
  };
}

/** The backend for new containers on a host with this layout: v2 only on a pure cgroup2 host. */
export function selectBackend(layout: CgroupLayout, cfs: CgroupFs = realCgroupFs): CgroupBackend {
  return layout.mode === 'v2' ? v2Backend(layout.unified, cfs) : v1Backend;
}

/** The backend an existing container was made with, from its stored cgroupPaths. */
export function backendOf(paths: Paths, cfs: CgroupFs = realCgroupFs): CgroupBackend {
  return paths[UNIFIED_KEY] !== undefined ? v2Backend(undefined, cfs) : v1Backend;
}

/** The host's backend and layout, detected once per process. */
let host: { layout: CgroupLayout; backend: CgroupBackend } | undefined;
export function hostBackend(): { layout: CgroupLayout; backend: CgroupBackend } {
  if (!host) {
    const layout = hostLayout();
    host = { layout, backend: selectBackend(layout) };
  }
  return host;
}

/**
 * undefined when the backend can apply these resources on this host, else the error naming the field
 * (checked before anything is created): hugepageLimits need a usable hugetlb controller (on this
 * hybrid host it exists only in the cgroup2 mount: "controller not available here"); on v1 every
 * setting needs its controller mounted, and v2-only settings (`unified`) are refused.
 */
export function resourcesUnavailable(layout: CgroupLayout, backend: CgroupBackend, r: LinuxResources | undefined, cfs: CgroupFs = realCgroupFs): Error | undefined {
  if (!r) return undefined;
  if (r.hugepageLimits?.length) {
    const err = hugetlbAvailable(layout, cfs);
    if (err) return err;
  }
  if (backend.version === 1 && layout.mode !== 'v2') {
    try {
      v1.planResourcesV1(r, v1.v1PrecheckHost(layout.v1.flatMap((h) => h.controllers)));
    } catch (err) {
      return err as Error;
    }
  }
  return undefined;
}

/** Settings that are accepted but not applied, as runc does (each a warning for the caller to print). */
export function resourceWarnings(r: LinuxResources | undefined): string[] {
  const warnings: string[] = [];
  if (r?.memory?.kernel !== undefined) warnings.push(v1.KERNEL_MEMORY_WARNING);
  return warnings;
}

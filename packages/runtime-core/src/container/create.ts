/**
 * `create`: validate the bundle, build the plan, make cgroups (and the Intel RDT group), run podkit-init
 * until it blocks on the exec FIFO.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError, toPodkitError } from '@podkit/errdefs';
import { buildCreatePlan, namespaceTypes } from '../plan/build';
import { hostBackend, resourcesUnavailable } from '../cgroups/backend';
import { mkfifo } from '../sys/fsnodes';
import { pidfdInode, readProcStat, spawnInit, waitPid, type InitChannel, type SpawnInitOptions } from '../sys/process';
import { applyIntelRdt, hostResctrlRoot, placeIntelRdt, planIntelRdt, removeIntelRdt, type ResctrlHost } from '../intelrdt/resctrl';
import { hookState, runHooks } from './hooks';
import { runInit } from './init-driver';
import { moveNetDevices } from './netdevices';
import { seccompAgent } from './seccomp-notify';
import { loadSpec } from './spec-file';
import { checkId, rfc3339Nano, writeFileAtomic, type StateRecord, type StateStore } from './store';

export interface CreateOptions {
  /** Bundle directory (default: the current directory). */
  bundle?: string;
  /** Write the container process's pid here (atomically). */
  pidFile?: string;
  /** MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
  /** `--console-socket`: for a `process.terminal` config, where the pty master is sent. */
  consoleSocket?: string;
  /** `--preserve-fds`: this process's fds 3 .. 3+N-1 are passed to the container as the same numbers. */
  preserveFds?: number;
  /** The container's stdio (default: this process's). */
  stdio?: SpawnInitOptions;
  /** Intel RDT: where resctrl is (default: this host's mount; tests: a fake tree, intelrdt/fake-tree.ts). */
  resctrl?: ResctrlHost;
}

export interface Created {
  record: StateRecord;
  /** pidfd of the container's init (close-on-exec); the caller owns it. */
  pidfd: number;
  warnings: string[];
}

/** stdio options plus this process's fds 3 .. 3+n-1 (`--preserve-fds n`). */
export function withExtraFds(stdio: SpawnInitOptions | undefined, n = 0): SpawnInitOptions | undefined {
  if (!n) return stdio;
  return { ...stdio, extraFds: Array.from({ length: n }, (_, i) => 3 + i) };
}

/** A spawned helper that never got its plan: closing the channel makes it exit; then it is reaped. */
async function discardHelper(spawned: Promise<{ pid: number; channel: InitChannel }>): Promise<void> {
  try {
    const { pid, channel } = await spawned;
    channel.close();
    await waitPid(pid);
  } catch {
    /* it never started, or is gone */
  }
}

/** Write-only fds (close-on-exec) of the `tasks` file of each cgroup v1 folder; all closed on failure. */
export function tasksFds(paths: Record<string, string>): number[] {
  const fds: number[] = [];
  for (const dir of Object.values(paths)) {
    try {
      fds.push(fs.openSync(path.join(dir, 'tasks'), fs.constants.O_WRONLY));
    } catch (err) {
      for (const fd of fds) fs.closeSync(fd);
      throw toPodkitError(err, `cgroup: open ${dir}/tasks`);
    }
  }
  return fds;
}

export async function create(store: StateStore, id: string, opts: CreateOptions = {}): Promise<Created> {
  const bundle = path.resolve(opts.bundle ?? '.');
  const spec = loadSpec(bundle);
  const { layout, backend } = hostBackend();
  const cgroupPaths = backend.paths(spec.linux?.cgroupsPath, id);
  const cgMounts = backend.mounts(cgroupPaths);
  const fifo = store.fifo(id);
  // Everything is decided (and a bad config rejected) before anything is created.
  const { plan, warnings } = buildCreatePlan(spec, {
    bundle,
    execFifo: fifo,
    cgroupMounts: 'v1' in cgMounts ? cgMounts.v1 : [],
    ...('v2' in cgMounts ? { cgroupV2Dir: cgMounts.v2 } : {}),
    noPivot: opts.noPivot,
    ...(opts.consoleSocket ? { consoleSocket: path.resolve(opts.consoleSocket) } : {}),
    ...(opts.preserveFds ? { preserveFds: opts.preserveFds } : {}),
    ...(opts.resctrl ? { resctrl: opts.resctrl } : {}),
  });
  const unavailable = resourcesUnavailable(layout, backend, spec.linux?.resources);
  if (unavailable) throw unavailable;
  const rootfs = plan.rootfs?.path ?? '';
  if (!fs.existsSync(rootfs)) throw new FailedPreconditionError(`root.path: rootfs ${rootfs} does not exist`, { details: { field: '/root/path' } });
  // Intel RDT (checked by the plan builder): the CLOS group folder, named by closID or the (checked) id.
  const rdtFs = opts.resctrl?.fs;
  let rdtPlan: ReturnType<typeof planIntelRdt> | undefined;
  if (spec.linux?.intelRdt) {
    checkId(id);
    rdtPlan = planIntelRdt(spec.linux.intelRdt, id, opts.resctrl?.root ?? hostResctrlRoot(), rdtFs);
  }
  store.reserve(id);
  const types = [...namespaceTypes(spec)];
  const record: StateRecord = {
    version: 1,
    id,
    bundle,
    rootfs,
    pid: 0,
    startTime: '0',
    pidfdInode: '0',
    created: rfc3339Nano(),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
    cgroupPaths,
    namespaces: types,
    ownPidNamespace: plan.clone.includes('pid'),
    process: spec.process as NonNullable<typeof spec.process>,
    ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
    ...(plan.personality !== undefined ? { personality: plan.personality } : {}),
    ...(spec.hooks?.poststart?.length || spec.hooks?.poststop?.length ? { hooks: { poststart: spec.hooks.poststart ?? [], poststop: spec.hooks.poststop ?? [] } } : {}),
  };
  // The helper starts (its sealed copy, posix_spawn, exec) on a pool thread while the cgroups and the
  // FIFO are made; it waits for its plan. Until runInit owns it, a failure here closes its channel
  // (it exits) and reaps it.
  const spawned = spawnInit(withExtraFds(opts.stdio, opts.preserveFds));
  spawned.catch(() => undefined); // handled by runInit, or below
  let initOwnsHelper = false;
  try {
    // A "creating" record first: if this process dies half-way, `delete --force` can clean up.
    store.save(record, false);
    backend.create(cgroupPaths, spec.linux?.resources);
    if (rdtPlan) {
      // As runc, after the cgroups and before the process runs: the group is made (or joined) with its
      // schemata now, the init is put in its `tasks` at the sync point. A group made here goes into the
      // record at once, so `delete --force` removes it even if this process dies half-way.
      record.intelRdt = applyIntelRdt(rdtPlan, rdtFs);
      if (record.intelRdt.created) store.save(record, false);
    }
    await mkfifo(fifo, 0o622);
    // mknod applied our umask; the container's user (any uid) must be able to open it for writing.
    fs.chmodSync(fifo, 0o622);
    // cgroup v1: the init joins its cgroups itself through `tasks` fds (no RCU grace period, see
    // native/src/init/cgjoin.h), unless a runtime hook must find the process in them already.
    const selfJoin = backend.version === 1 && !spec.hooks?.prestart?.length && !spec.hooks?.createRuntime?.length;
    initOwnsHelper = true;
    const init = await runInit(plan, {
      spawned,
      ...(selfJoin ? { cgroupJoin: () => tasksFds(cgroupPaths) } : {}),
      place: async (pid) => {
        if (!selfJoin) backend.place(cgroupPaths, pid);
        // Its children (the container's processes) inherit the CLOS group.
        if (record.intelRdt) placeIntelRdt(record.intelRdt, pid, rdtFs);
        // linux.netDevices: into the container's network namespace before any hook sees it.
        await moveNetDevices(spec, pid);
        // prestart (deprecated) and createRuntime: here, in the runtime's namespaces, once the
        // container's namespaces exist and before pivot_root.
        const creating = hookState(id, 'creating', pid, bundle, spec.annotations);
        await runHooks(spec.hooks, 'prestart', creating);
        await runHooks(spec.hooks, 'createRuntime', creating);
        if (!plan.hooks) return;
        return { stateCreating: JSON.stringify(creating), stateCreated: JSON.stringify(hookState(id, 'created', pid, bundle, spec.annotations)) };
      },
      // The full record (pid, start time, pidfd inode) is written while the init builds its rootfs.
      // Until `ready` the status reads "created" already; `start` would just wait on the FIFO.
      overlap: (pid, pidfd) => {
        record.pid = pid;
        record.startTime = readProcStat(pid)?.startTime ?? '0';
        record.pidfdInode = pidfdInode(pidfd);
        store.save(record);
      },
      // seccomp SCMP_ACT_NOTIFY: the listener goes to linux.seccomp.listenerPath (state "creating").
      seccompListener: seccompAgent(spec.linux?.seccomp, (pid) => hookState(id, 'creating', pid, bundle, spec.annotations)),
    });
    // Runtime state: atomic, not fsynced (see store.ts), as runc writes it.
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(init.pid), 0o644, false);
    return { record, pidfd: init.pidfd, warnings: [...warnings, ...init.warnings] };
  } catch (err) {
    if (!initOwnsHelper) await discardHelper(spawned);
    await backend.remove(cgroupPaths).catch(() => undefined);
    // The init is gone (runInit reaps it on failure); a group it joined is left, one made here removed.
    if (record.intelRdt) {
      try {
        removeIntelRdt(record.intelRdt, rdtFs);
      } catch {
        /* the original error matters */
      }
    }
    store.remove(id);
    throw err;
  }
}

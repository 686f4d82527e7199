/**
 * The plan: plain JSON that podkit-init carries out (native/src/init/main.cc documents the protocol).
 * Paths under `rootfs` stay relative to the rootfs; the helper resolves each one inside the root when
 * it uses it.
 */

import type { LinuxIDMapping, LinuxSeccomp } from '@podkit/oci-spec';

/** Version of the plan protocol; must equal kPlanProtocolVersion in native/src/common/version.h. */
export const PLAN_PROTOCOL_VERSION = 2;

export interface PlanMount {
  destination: string;
  type: string;
  source: string;
  /** MS_* flags; a bind mount has MS_BIND (and MS_REC for rbind); other flags are applied by a remount. */
  flags: number;
  data: string;
  propagation?: number[];
  /**
   * Recursive attributes (rro, rnosuid...): MOUNT_ATTR_* bits set and cleared with
   * mount_setattr(AT_RECURSIVE) on the mount and every mount beneath it, after it is mounted.
   */
  recAttr?: { set: number; clr: number };
  /**
   * The bind source is cloned by podkit-init before it joins any namespace (open_tree, made a slave)
   * and attached in the container with move_mount: for idmapped mounts, and in a user namespace,
   * whose root may not reach the source's path.
   */
  detached?: boolean;
  /** An idmapped bind (`detached`): through a user namespace with these maps; `recursive` for ridmap. */
  idmap?: { uidMappings: LinuxIDMapping[]; gidMappings: LinuxIDMapping[]; recursive: boolean };
  /** `cgroup-v1`: a tmpfs holding a read-only bind of the container's cgroup for each hierarchy. */
  kind?: 'cgroup-v1';
  cgroups?: { name: string; source: string }[];
}

export interface PlanDevice {
  path: string;
  type: string;
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface PlanRootfs {
  /** Absolute host path of the rootfs. */
  path: string;
  readonly: boolean;
  noPivot: boolean;
  /** rootfsPropagation as MS_* flags (0 = the default, rslave). */
  propagation: number;
  mounts: PlanMount[];
  devices: PlanDevice[];
  devSymlinks: boolean;
  maskedPaths: string[];
  readonlyPaths: string[];
}

export interface PlanCapabilities {
  bounding: number[];
  effective: number[];
  permitted: number[];
  inheritable: number[];
  ambient: number[];
}

export interface PlanProcess {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[]; umask?: number };
  /** soft/hard as decimal strings, so 64-bit values survive JSON. */
  rlimits: { type: number; soft: string; hard: string }[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  /** Absent: the capability sets are left as they are (runc does the same). */
  capabilities?: PlanCapabilities;
  /**
   * The container's seccomp profile (validated OCI `linux.seccomp`, also for `exec`): podkit-init
   * compiles it with libseccomp and loads it as late as the kernel allows (see native/src/init/main.cc);
   * with SCMP_ACT_NOTIFY the listener comes back over the channel for linux.seccomp.listenerPath.
   */
  seccomp?: LinuxSeccomp;
  /** process.scheduler for sched_setattr: names as numbers, the SCHED_DEADLINE times (ns) as decimal strings. */
  scheduler?: { policy: number; nice: number; priority: number; flags: number; runtime: string; deadline: string; period: string };
  /** process.ioPriority for ioprio_set (IOPRIO_CLASS_* number and level 0-7). */
  ioPriority?: { class: number; priority: number };
  /**
   * process.execCPUAffinity as CPU numbers. The init applies it to exec processes only (the spec: not
   * to the container's init): `initial` before the process joins the container's cgroups, `final` after.
   */
  cpuAffinity?: { initial?: number[]; final?: number[] };
  preserveFds: number;
}

/** A hook podkit-init runs (createContainer, startContainer); `timeout` in seconds. */
export interface PlanHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The process runs in a user namespace, new (`clone` has "user") or joined (`join` has it). */
export interface PlanUserns {
  /**
   * A new namespace: the maps the runtime writes to /proc/<pid>/{uid_map,gid_map} at the `child` sync
   * point, before `continue`. A joined one: what its maps must equal (podkit-init checks them).
   */
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  /**
   * /proc/<pid>/setgroups: "deny" when the runtime itself lacks CAP_SETGID (the kernel requires it
   * before an unprivileged writer's gid_map), and then podkit-init never calls setgroups(2).
   */
  setgroups: 'allow' | 'deny';
}

export interface Plan {
  mode: 'create' | 'exec';
  /**
   * Namespaces to create (the cgroup one is unshared after the parent placed the process, the time one
   * before the process is cloned).
   */
  clone: string[];
  /** Namespaces to join, in order: `type` is the OCI type, `path` an nsfs file. */
  join: { type: string; path: string }[];
  cloneParent: boolean;
  setsid: boolean;
  execFifo?: string;
  rootfs?: PlanRootfs;
  userns?: PlanUserns;
  /** A new time namespace (`clone` has "time"): its clock offsets, written before the process enters it. */
  timeOffsets?: Partial<Record<'monotonic' | 'boottime', { secs: number; nanosecs: number }>>;
  /** personality(2): the execution domain | its flags. */
  personality?: number;
  hostname?: string;
  domainname?: string;
  sysctl?: Record<string, string>;
  /**
   * A terminal: the init connects to `socket` before joining any namespace, then (in the container)
   * creates a pty, sends its master over the socket (SCM_RIGHTS) and makes the slave its stdio.
   */
  console?: { socket: string; height?: number; width?: number };
  /**
   * Hooks run by the init with the state JSON the parent sends in `continue` (`stateCreating`,
   * `stateCreated`): createContainer in the container's namespaces before pivot_root, startContainer
   * in the container after `start` opened the exec FIFO, just before execve.
   */
  hooks?: { createContainer?: PlanHook[]; startContainer?: PlanHook[] };
  process: PlanProcess;
}

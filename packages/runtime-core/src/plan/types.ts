/**
 * The plan: plain JSON that podkit-init carries out (native/src/init/main.cc documents the protocol).
 * Paths under `rootfs` stay relative to the rootfs; the helper resolves each one inside the root when
 * it uses it.
 */

import type { LinuxSeccomp } from '@podkit/oci-spec';

/** Version of the plan protocol; must equal kPlanProtocolVersion in native/src/common/version.h. */
export const PLAN_PROTOCOL_VERSION = 1;

export interface PlanMount {
  destination: string;
  type: string;
  source: string;
  /** MS_* flags; a bind mount has MS_BIND (and MS_REC for rbind); other flags are applied by a remount. */
  flags: number;
  data: string;
  propagation?: number[];
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
   * compiles it with libseccomp and loads it just before execve.
   */
  seccomp?: LinuxSeccomp;
  preserveFds: number;
}

/** A hook podkit-init runs (createContainer, startContainer); `timeout` in seconds. */
export interface PlanHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Plan {
  mode: 'create' | 'exec';
  /** Namespaces to create (the cgroup one is unshared after the parent placed the process). */
  clone: string[];
  /** Namespaces to join, in order: `type` is the OCI type, `path` an nsfs file. */
  join: { type: string; path: string }[];
  cloneParent: boolean;
  setsid: boolean;
  execFifo?: string;
  rootfs?: PlanRootfs;
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

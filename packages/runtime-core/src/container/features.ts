/**
 * podrun's runtime-spec `features` document: what this runtime implements (as `runc features` prints).
 * Every entry says what podrun applies; what it refuses is absent or false. features.spec.ts checks the
 * entries against the plan builder, which is where a config is accepted or refused.
 */
import * as os from 'node:os';
import { SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPERATORS, type Features } from '@podkit/oci-spec';
import { seccompIssues, unsupportedIssues } from '../plan/build';
import { CAPABILITIES, RECURSIVE_MOUNT_OPTIONS, SUPPORTED_NAMESPACES } from '../plan/tables';

type SeccompFlag = (typeof SECCOMP_FLAGS)[number];

/**
 * Mount options podrun understands (flags and propagation; anything else goes to the filesystem as
 * data), plus the recursive attributes and idmap/ridmap, which it applies itself. Not `tmpcopyup`,
 * which it refuses, nor runc's acl/iversion flags, which reach the filesystem as data here.
 */
const MOUNT_OPTIONS = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'lazytime', 'loud', 'mand',
  'noatime', 'nodev', 'nodiratime', 'noexec', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime',
  'nosuid', 'nosymfollow', 'private', 'rbind', 'relatime', 'remount', 'ro', 'rprivate', 'rshared', 'rslave',
  'runbindable', 'rw', 'shared', 'silent', 'slave', 'strictatime', 'suid', 'symfollow', 'sync', 'unbindable',
  'idmap', 'ridmap', ...Object.keys(RECURSIVE_MOUNT_OPTIONS),
];

/** The kernel release each seccomp filter flag appeared in (podkit-init passes them to seccomp(2) itself). */
const SECCOMP_FLAG_SINCE: Readonly<Record<SeccompFlag, [number, number]>> = {
  SECCOMP_FILTER_FLAG_TSYNC: [3, 17],
  SECCOMP_FILTER_FLAG_LOG: [4, 14],
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: [4, 17],
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: [5, 19],
};

/** The flags this kernel (`release`, as uname -r) supports: the spec's `supportedFlags` may depend on it. */
export function supportedSeccompFlags(release: string = os.release()): SeccompFlag[] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  return SECCOMP_FLAGS.filter((f) => {
    const [M, n] = SECCOMP_FLAG_SINCE[f];
    return major > M || (major === M && minor >= n);
  });
}

/** The architectures the plan builder accepts (those the libseccomp podkit-init links knows). */
function seccompArchs(): string[] {
  return SECCOMP_ARCHES.filter((a) => {
    const issues: { path: string; reason: string }[] = [];
    seccompIssues({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [a] }, '/linux/seccomp', issues);
    return issues.length === 0;
  }).sort();
}

/** Whether the plan builder takes `linux.netDevices` (a device moved into a new network namespace). */
function netDevicesAccepted(): boolean {
  return unsupportedIssues({ ociVersion: '1.2.0', linux: { namespaces: [{ type: 'network' }], netDevices: { eth9: {} } } }).length === 0;
}

export function features(ociVersionMax: string): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...MOUNT_OPTIONS].sort(),
    linux: {
      namespaces: [...SUPPORTED_NAMESPACES].sort(),
      capabilities: Object.keys(CAPABILITIES),
      // Both versions, detected at run time (cgroups/backend.ts); rdma on both. No systemd driver.
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: {
        enabled: true,
        // NOTIFY: the listener goes to linux.seccomp.listenerPath (container/seccomp-notify.ts).
        actions: [...SECCOMP_ACTIONS].sort(),
        operators: [...SECCOMP_OPERATORS].sort(),
        archs: seccompArchs(),
        // WAIT_KILLABLE_RECV goes straight to seccomp(2) (kernel 5.19+), not through libseccomp 2.5.
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: supportedSeccompFlags(),
      },
      // apparmorProfile, selinuxLabel and mountLabel are refused with their path (plan/process-attrs.ts).
      apparmor: { enabled: false },
      selinux: { enabled: false },
      // A CLOS group of resctrl per container (intelrdt/resctrl.ts, container/create.ts); on a host
      // without resctrl a config with intelRdt is refused with the reason.
      intelRdt: { enabled: true },
      mountExtensions: { idmap: { enabled: true } },
      // linux.netDevices: moved into the container's network namespace at create (container/netdevices.ts)
      // once the plan builder takes it; refused with its path before.
      netDevices: { enabled: netDevicesAccepted() },
    },
    annotations: {},
  };
}

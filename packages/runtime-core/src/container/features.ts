/** podrun's runtime-spec `features` document: what this runtime implements (as `runc features` prints). */
import type { Features } from '@podkit/oci-spec';
import { CAPABILITIES, SUPPORTED_NAMESPACES } from '../plan/tables';

/** Mount options podrun understands (flags and propagation; anything else goes to the filesystem as data). */
const MOUNT_OPTIONS = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'lazytime', 'loud', 'mand',
  'noatime', 'nodev', 'nodiratime', 'noexec', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime',
  'nosuid', 'nosymfollow', 'private', 'rbind', 'relatime', 'remount', 'ro', 'rprivate', 'rshared', 'rslave',
  'runbindable', 'rw', 'shared', 'silent', 'slave', 'strictatime', 'suid', 'symfollow', 'sync', 'unbindable',
];

export function features(ociVersionMax: string): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...MOUNT_OPTIONS].sort(),
    linux: {
      namespaces: [...SUPPORTED_NAMESPACES],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: true, v2: false, systemd: false, systemdUser: false, rdma: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
      netDevices: { enabled: false },
    },
    annotations: {},
  };
}

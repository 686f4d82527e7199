/** podrun's runtime-spec `features` document: what this runtime implements (as `runc features` prints). */
import type { Features } from '@podkit/oci-spec';
import { CAPABILITIES, RECURSIVE_MOUNT_OPTIONS, SUPPORTED_NAMESPACES } from '../plan/tables';

/**
 * Mount options podrun understands (flags and propagation; anything else goes to the filesystem as
 * data), plus the recursive attributes and idmap/ridmap, which it applies itself.
 */
const MOUNT_OPTIONS = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'lazytime', 'loud', 'mand',
  'noatime', 'nodev', 'nodiratime', 'noexec', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime',
  'nosuid', 'nosymfollow', 'private', 'rbind', 'relatime', 'remount', 'ro', 'rprivate', 'rshared', 'rslave',
  'runbindable', 'rw', 'shared', 'silent', 'slave', 'strictatime', 'suid', 'symfollow', 'sync', 'unbindable',
  'idmap', 'ridmap', ...Object.keys(RECURSIVE_MOUNT_OPTIONS),
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
      seccomp: {
        enabled: true,
        // NOTIFY: the listener goes to linux.seccomp.listenerPath (container/seccomp-notify.ts).
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP'],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'],
        archs: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64'],
        // WAIT_KILLABLE_RECV goes straight to seccomp(2) (kernel 5.19+), not through libseccomp 2.5.
        knownFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
        supportedFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: true } },
      netDevices: { enabled: false },
    },
    annotations: {},
  };
}

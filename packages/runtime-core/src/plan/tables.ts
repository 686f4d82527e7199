/** Name → number tables for the kernel constants a plan carries (capabilities, rlimits, namespaces). */

export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** OCI namespace type → the name under /proc/<pid>/ns/. */
export const NS_PROC_NAME: Readonly<Record<string, string>> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  cgroup: 'cgroup',
  user: 'user',
  time: 'time',
};

/** Namespace types this runtime supports (every type of the runtime-spec). */
export const SUPPORTED_NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup', 'user', 'time'] as const;

/** MOUNT_ATTR_* bits of mount_setattr(2). */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  /** The access-time setting is a 3-bit field: setting one of its values needs the field cleared. */
  ATIME_MASK: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

/**
 * The recursive mount options of runtime-spec 1.1 (`rro`, `rnosuid`...): each sets or clears one
 * MOUNT_ATTR bit on a mount and all mounts beneath it (runc's table).
 */
export const RECURSIVE_MOUNT_OPTIONS: Readonly<Record<string, { flag: number; clear: boolean }>> = {
  rro: { flag: MOUNT_ATTR.RDONLY, clear: false },
  rrw: { flag: MOUNT_ATTR.RDONLY, clear: true },
  rnosuid: { flag: MOUNT_ATTR.NOSUID, clear: false },
  rsuid: { flag: MOUNT_ATTR.NOSUID, clear: true },
  rnodev: { flag: MOUNT_ATTR.NODEV, clear: false },
  rdev: { flag: MOUNT_ATTR.NODEV, clear: true },
  rnoexec: { flag: MOUNT_ATTR.NOEXEC, clear: false },
  rexec: { flag: MOUNT_ATTR.NOEXEC, clear: true },
  rnodiratime: { flag: MOUNT_ATTR.NODIRATIME, clear: false },
  rdiratime: { flag: MOUNT_ATTR.NODIRATIME, clear: true },
  rrelatime: { flag: MOUNT_ATTR.RELATIME, clear: false },
  rnorelatime: { flag: MOUNT_ATTR.RELATIME, clear: true },
  rnoatime: { flag: MOUNT_ATTR.NOATIME, clear: false },
  ratime: { flag: MOUNT_ATTR.NOATIME, clear: true },
  rstrictatime: { flag: MOUNT_ATTR.STRICTATIME, clear: false },
  rnostrictatime: { flag: MOUNT_ATTR.STRICTATIME, clear: true },
  rnosymfollow: { flag: MOUNT_ATTR.NOSYMFOLLOW, clear: false },
  rsymfollow: { flag: MOUNT_ATTR.NOSYMFOLLOW, clear: true },
};

/** personality(2) execution domains of /linux/personality/domain. */
export const PERSONALITY_DOMAINS: Readonly<Record<string, number>> = { LINUX: 0x0, LINUX32: 0x8 };

/** personality(2) flags (<sys/personality.h>) accepted in /linux/personality/flags. */
export const PERSONALITY_FLAGS: Readonly<Record<string, number>> = {
  UNAME26: 0x0020000,
  ADDR_NO_RANDOMIZE: 0x0040000,
  FDPIC_FUNCPTRS: 0x0080000,
  MMAP_PAGE_ZERO: 0x0100000,
  ADDR_COMPAT_LAYOUT: 0x0200000,
  READ_IMPLIES_EXEC: 0x0400000,
  ADDR_LIMIT_32BIT: 0x0800000,
  SHORT_INODE: 0x1000000,
  WHOLE_SECONDS: 0x2000000,
  STICKY_TIMEOUTS: 0x4000000,
  ADDR_LIMIT_3GB: 0x8000000,
};

/** Clocks a time namespace can offset (/linux/timeOffsets keys). */
export const TIME_NS_CLOCKS = ['monotonic', 'boottime'] as const;

/** The devices every container with its own /dev gets, as in runc. */
export const DEFAULT_DEVICES = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
] as const;

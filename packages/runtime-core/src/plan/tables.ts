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

/** Namespace types this runtime supports now (user and time come with a later issue). */
export const SUPPORTED_NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup'] as const;

/** The devices every container with its own /dev gets, as in runc. */
export const DEFAULT_DEVICES = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
] as const;

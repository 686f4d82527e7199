/** The closed value sets of runtime-spec v1.2 (kept apart from the schemas so importing them is cheap). */

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export const RLIMIT_TYPES = [
  'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_LOCKS', 'RLIMIT_MEMLOCK',
  'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_RSS', 'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME', 'RLIMIT_SIGPENDING', 'RLIMIT_STACK',
] as const;
export const SCHEDULER_POLICIES = [
  'SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE',
] as const;
export const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN', 'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS', 'SCHED_FLAG_UTIL_CLAMP_MIN', 'SCHED_FLAG_UTIL_CLAMP_MAX',
] as const;
export const IOPRIO_CLASSES = ['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'] as const;
export const DEVICE_TYPES = ['c', 'b', 'u', 'p'] as const;
export const DEVICE_CGROUP_TYPES = ['a', 'c', 'b'] as const;
/** rootfsPropagation values runc accepts (the spec's four plus their recursive forms and the empty default). */
export const ROOTFS_PROPAGATIONS = [
  '', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable',
] as const;
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
] as const;
export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
] as const;
export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
] as const;
export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export const PERSONALITY_DOMAINS = ['LINUX', 'LINUX32'] as const;
/** linux.memoryPolicy (runtime-spec 1.3): set_mempolicy(2) modes and mode flags. */
export const MEMORY_POLICY_MODES = [
  'MPOL_DEFAULT', 'MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED', 'MPOL_PREFERRED_MANY', 'MPOL_LOCAL',
] as const;
export const MEMORY_POLICY_FLAGS = ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'] as const;
export const CONTAINER_STATUSES = ['creating', 'created', 'running', 'stopped'] as const;

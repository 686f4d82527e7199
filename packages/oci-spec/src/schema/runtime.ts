/**
 * OCI runtime-spec v1.2 for Linux (with 1.3's `linux.memoryPolicy` and `linux.intelRdt.schemata` /
 * `enableMonitoring`, so a 1.3 config cannot pass them by a runtime that would drop them unseen):
 * `config.json`, `state.json`, the `features` document and the
 * `process.json` of `runc exec --process`. Types and JSON Schemas from one source (TypeBox).
 * Unknown properties are allowed (the spec says they MUST be ignored); unknown values of known enums are not.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Int32, Int64, Pattern, StringArray, StringEnum, StringMap, Uint16, Uint32, Uint64 } from './common';
import {
  CONTAINER_STATUSES,
  DEVICE_CGROUP_TYPES,
  DEVICE_TYPES,
  IOPRIO_CLASSES,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  NAMESPACE_TYPES,
  PERSONALITY_DOMAINS,
  RLIMIT_TYPES,
  ROOTFS_PROPAGATIONS,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from './enums';

const Opt = Type.Optional;

// ---- process ----------------------------------------------------------------------------------

export const UserSchema = Type.Object({
  uid: Uint32(),
  gid: Uint32(),
  umask: Opt(Uint32()),
  additionalGids: Opt(Type.Array(Uint32())),
  username: Opt(Type.String()),
});

const CapabilityList = () => Type.Array(Pattern('capability'));
export const LinuxCapabilitiesSchema = Type.Object({
  bounding: Opt(CapabilityList()),
  effective: Opt(CapabilityList()),
  inheritable: Opt(CapabilityList()),
  permitted: Opt(CapabilityList()),
  ambient: Opt(CapabilityList()),
});

export const POSIXRlimitSchema = Type.Object({
  type: StringEnum(RLIMIT_TYPES),
  hard: Uint64(),
  soft: Uint64(),
});

export const BoxSchema = Type.Object({ height: Uint32(), width: Uint32() });

export const SchedulerSchema = Type.Object({
  policy: StringEnum(SCHEDULER_POLICIES),
  nice: Opt(Int32()),
  priority: Opt(Int32()),
  flags: Opt(Type.Array(StringEnum(SCHEDULER_FLAGS))),
  runtime: Opt(Uint64()),
  deadline: Opt(Uint64()),
  period: Opt(Uint64()),
});

export const IOPrioritySchema = Type.Object({
  class: StringEnum(IOPRIO_CLASSES),
  priority: Opt(Type.Integer({ minimum: 0, maximum: 7 })),
});

export const CPUAffinitySchema = Type.Object({ initial: Opt(Type.String()), final: Opt(Type.String()) });

export const ProcessSchema = Type.Object({
  terminal: Opt(Type.Boolean()),
  consoleSize: Opt(BoxSchema),
  user: Opt(UserSchema),
  args: Opt(StringArray()),
  commandLine: Opt(Type.String()),
  env: Opt(StringArray()),
  cwd: Pattern('absolutePath'),
  capabilities: Opt(LinuxCapabilitiesSchema),
  rlimits: Opt(Type.Array(POSIXRlimitSchema)),
  noNewPrivileges: Opt(Type.Boolean()),
  apparmorProfile: Opt(Type.String()),
  oomScoreAdj: Opt(Type.Integer({ minimum: -1000, maximum: 1000 })),
  scheduler: Opt(SchedulerSchema),
  selinuxLabel: Opt(Type.String()),
  ioPriority: Opt(IOPrioritySchema),
  execCPUAffinity: Opt(CPUAffinitySchema),
});

// ---- root, mounts, hooks -------------------------------------------------------------------------

export const RootSchema = Type.Object({ path: Type.String({ minLength: 1 }), readonly: Opt(Type.Boolean()) });

export const LinuxIDMappingSchema = Type.Object({ containerID: Uint32(), hostID: Uint32(), size: Uint32() });

export const MountSchema = Type.Object({
  destination: Type.String({ minLength: 1 }),
  type: Opt(Type.String()),
  source: Opt(Type.String()),
  options: Opt(StringArray()),
  uidMappings: Opt(Type.Array(LinuxIDMappingSchema)),
  gidMappings: Opt(Type.Array(LinuxIDMappingSchema)),
});

export const HookSchema = Type.Object({
  path: Pattern('absolutePath'),
  args: Opt(StringArray()),
  env: Opt(StringArray()),
  timeout: Opt(Type.Integer({ minimum: 1 })),
});

const HookList = () => Type.Array(HookSchema);
export const HooksSchema = Type.Object({
  /** Deprecated in favour of createRuntime, createContainer and startContainer, still honoured. */
  prestart: Opt(HookList()),
  createRuntime: Opt(HookList()),
  createContainer: Opt(HookList()),
  startContainer: Opt(HookList()),
  poststart: Opt(HookList()),
  poststop: Opt(HookList()),
});

// ---- linux -----------------------------------------------------------------------------------------

export const LinuxNamespaceSchema = Type.Object({
  type: StringEnum(NAMESPACE_TYPES),
  path: Opt(Type.String()),
});

export const LinuxDeviceSchema = Type.Object({
  path: Pattern('absolutePath'),
  type: StringEnum(DEVICE_TYPES),
  major: Opt(Int64()),
  minor: Opt(Int64()),
  fileMode: Opt(Uint32()),
  uid: Opt(Uint32()),
  gid: Opt(Uint32()),
});

export const LinuxDeviceCgroupSchema = Type.Object({
  allow: Type.Boolean(),
  type: Opt(StringEnum(DEVICE_CGROUP_TYPES)),
  major: Opt(Int64()),
  minor: Opt(Int64()),
  access: Opt(Pattern('deviceAccess')),
});

export const LinuxMemorySchema = Type.Object({
  limit: Opt(Int64()),
  reservation: Opt(Int64()),
  swap: Opt(Int64()),
  kernel: Opt(Int64()),
  kernelTCP: Opt(Int64()),
  swappiness: Opt(Uint64()),
  disableOOMKiller: Opt(Type.Boolean()),
  useHierarchy: Opt(Type.Boolean()),
  checkBeforeUpdate: Opt(Type.Boolean()),
});

export const LinuxCPUSchema = Type.Object({
  shares: Opt(Uint64()),
  quota: Opt(Int64()),
  burst: Opt(Uint64()),
  period: Opt(Uint64()),
  realtimeRuntime: Opt(Int64()),
  realtimePeriod: Opt(Uint64()),
  cpus: Opt(Type.String()),
  mems: Opt(Type.String()),
  idle: Opt(Int64()),
});

export const LinuxPidsSchema = Type.Object({ limit: Int64() });

export const LinuxWeightDeviceSchema = Type.Object({
  major: Int64(),
  minor: Int64(),
  weight: Opt(Uint16()),
  leafWeight: Opt(Uint16()),
});
export const LinuxThrottleDeviceSchema = Type.Object({ major: Int64(), minor: Int64(), rate: Uint64() });
const ThrottleList = () => Type.Array(LinuxThrottleDeviceSchema);

export const LinuxBlockIOSchema = Type.Object({
  // uint16 in the spec; the kernel's ranges (10–1000 for v1, 1–10000 for v2) are the cgroup driver's business.
  weight: Opt(Uint16()),
  leafWeight: Opt(Uint16()),
  weightDevice: Opt(Type.Array(LinuxWeightDeviceSchema)),
  throttleReadBpsDevice: Opt(ThrottleList()),
  throttleWriteBpsDevice: Opt(ThrottleList()),
  throttleReadIOPSDevice: Opt(ThrottleList()),
  throttleWriteIOPSDevice: Opt(ThrottleList()),
});

export const LinuxHugepageLimitSchema = Type.Object({ pageSize: Type.String({ minLength: 1 }), limit: Uint64() });

export const LinuxInterfacePrioritySchema = Type.Object({ name: Type.String(), priority: Uint32() });
export const LinuxNetworkSchema = Type.Object({
  classID: Opt(Uint32()),
  priorities: Opt(Type.Array(LinuxInterfacePrioritySchema)),
});

export const LinuxRdmaSchema = Type.Object({ hcaHandles: Opt(Uint32()), hcaObjects: Opt(Uint32()) });

export const LinuxResourcesSchema = Type.Object({
  devices: Opt(Type.Array(LinuxDeviceCgroupSchema)),
  memory: Opt(LinuxMemorySchema),
  cpu: Opt(LinuxCPUSchema),
  pids: Opt(LinuxPidsSchema),
  blockIO: Opt(LinuxBlockIOSchema),
  hugepageLimits: Opt(Type.Array(LinuxHugepageLimitSchema)),
  network: Opt(LinuxNetworkSchema),
  rdma: Opt(Type.Record(Type.String(), LinuxRdmaSchema)),
  unified: Opt(StringMap()),
});

export const LinuxSeccompArgSchema = Type.Object({
  index: Type.Integer({ minimum: 0, maximum: 5 }),
  value: Uint64(),
  valueTwo: Opt(Uint64()),
  op: StringEnum(SECCOMP_OPERATORS),
});

export const LinuxSyscallSchema = Type.Object({
  names: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  action: StringEnum(SECCOMP_ACTIONS),
  errnoRet: Opt(Uint32()),
  args: Opt(Type.Array(LinuxSeccompArgSchema)),
});

export const LinuxSeccompSchema = Type.Object({
  defaultAction: StringEnum(SECCOMP_ACTIONS),
  defaultErrnoRet: Opt(Uint32()),
  architectures: Opt(Type.Array(StringEnum(SECCOMP_ARCHES))),
  flags: Opt(Type.Array(StringEnum(SECCOMP_FLAGS))),
  listenerPath: Opt(Type.String()),
  listenerMetadata: Opt(Type.String()),
  syscalls: Opt(Type.Array(LinuxSyscallSchema)),
});

export const LinuxIntelRdtSchema = Type.Object({
  closID: Opt(Type.String()),
  l3CacheSchema: Opt(Type.String()),
  memBwSchema: Opt(Type.String()),
  enableCMT: Opt(Type.Boolean()),
  enableMBM: Opt(Type.Boolean()),
  /** runtime-spec 1.3: lines for the CLOS group's `schemata` file, and a monitoring group. */
  schemata: Opt(StringArray()),
  enableMonitoring: Opt(Type.Boolean()),
});

export const LinuxPersonalitySchema = Type.Object({
  domain: StringEnum(PERSONALITY_DOMAINS),
  flags: Opt(StringArray()),
});

export const LinuxTimeOffsetSchema = Type.Object({ secs: Opt(Int64()), nanosecs: Opt(Uint32()) });

export const LinuxNetDeviceSchema = Type.Object({ name: Opt(Type.String()) });

/** runtime-spec 1.3: the NUMA memory policy of the container's processes (set_mempolicy(2)). */
export const LinuxMemoryPolicySchema = Type.Object({
  mode: StringEnum(MEMORY_POLICY_MODES),
  nodes: Opt(Type.String()),
  flags: Opt(Type.Array(StringEnum(MEMORY_POLICY_FLAGS))),
});

export const LinuxSchema = Type.Object({
  uidMappings: Opt(Type.Array(LinuxIDMappingSchema)),
  gidMappings: Opt(Type.Array(LinuxIDMappingSchema)),
  timeOffsets: Opt(
    Type.Object({ boottime: Opt(LinuxTimeOffsetSchema), monotonic: Opt(LinuxTimeOffsetSchema) }),
  ),
  sysctl: Opt(StringMap()),
  resources: Opt(LinuxResourcesSchema),
  cgroupsPath: Opt(Type.String()),
  namespaces: Opt(Type.Array(LinuxNamespaceSchema)),
  devices: Opt(Type.Array(LinuxDeviceSchema)),
  netDevices: Opt(Type.Record(Type.String(), LinuxNetDeviceSchema)),
  seccomp: Opt(LinuxSeccompSchema),
  rootfsPropagation: Opt(StringEnum(ROOTFS_PROPAGATIONS)),
  maskedPaths: Opt(StringArray()),
  readonlyPaths: Opt(StringArray()),
  mountLabel: Opt(Type.String()),
  intelRdt: Opt(LinuxIntelRdtSchema),
  personality: Opt(LinuxPersonalitySchema),
  memoryPolicy: Opt(LinuxMemoryPolicySchema),
});

// ---- documents -------------------------------------------------------------------------------------

export const SpecSchema = Type.Object({
  ociVersion: Pattern('ociVersion'),
  process: Opt(ProcessSchema),
  root: Opt(RootSchema),
  hostname: Opt(Type.String()),
  domainname: Opt(Type.String()),
  mounts: Opt(Type.Array(MountSchema)),
  hooks: Opt(HooksSchema),
  annotations: Opt(StringMap()),
  linux: Opt(LinuxSchema),
});

export const StateSchema = Type.Object({
  ociVersion: Pattern('ociVersion'),
  id: Type.String({ minLength: 1 }),
  status: StringEnum(CONTAINER_STATUSES),
  pid: Opt(Type.Integer({ minimum: 0 })),
  bundle: Pattern('absolutePath'),
  annotations: Opt(StringMap()),
});

const Enabled = () => Type.Object({ enabled: Opt(Type.Boolean()) });

export const LinuxFeaturesSchema = Type.Object({
  namespaces: Opt(StringArray()),
  capabilities: Opt(StringArray()),
  cgroup: Opt(
    Type.Object({
      v1: Opt(Type.Boolean()),
      v2: Opt(Type.Boolean()),
      systemd: Opt(Type.Boolean()),
      systemdUser: Opt(Type.Boolean()),
      rdma: Opt(Type.Boolean()),
    }),
  ),
  seccomp: Opt(
    Type.Object({
      enabled: Opt(Type.Boolean()),
      actions: Opt(StringArray()),
      operators: Opt(StringArray()),
      archs: Opt(StringArray()),
      knownFlags: Opt(StringArray()),
      supportedFlags: Opt(StringArray()),
    }),
  ),
  apparmor: Opt(Enabled()),
  selinux: Opt(Enabled()),
  intelRdt: Opt(Enabled()),
  mountExtensions: Opt(Type.Object({ idmap: Opt(Enabled()) })),
  netDevices: Opt(Enabled()),
});

/**
 * The `features` document (`runc features`). Lists are plain strings: a newer runtime may report values
 * this version does not know, and the document only describes what the runtime supports.
 */
export const FeaturesSchema = Type.Object({
  ociVersionMin: Pattern('ociVersion'),
  ociVersionMax: Pattern('ociVersion'),
  hooks: Opt(StringArray()),
  mountOptions: Opt(StringArray()),
  linux: Opt(LinuxFeaturesSchema),
  annotations: Opt(StringMap()),
  potentiallyUnsafeConfigAnnotations: Opt(StringArray()),
});

export type Spec = Static<typeof SpecSchema>;
export type Process = Static<typeof ProcessSchema>;
export type User = Static<typeof UserSchema>;
export type LinuxCapabilities = Static<typeof LinuxCapabilitiesSchema>;
export type POSIXRlimit = Static<typeof POSIXRlimitSchema>;
export type Box = Static<typeof BoxSchema>;
export type Scheduler = Static<typeof SchedulerSchema>;
export type IOPriority = Static<typeof IOPrioritySchema>;
export type CPUAffinity = Static<typeof CPUAffinitySchema>;
export type Root = Static<typeof RootSchema>;
export type Mount = Static<typeof MountSchema>;
export type Hooks = Static<typeof HooksSchema>;
export type Hook = Static<typeof HookSchema>;
export type Linux = Static<typeof LinuxSchema>;
export type LinuxNamespace = Static<typeof LinuxNamespaceSchema>;
export type LinuxNamespaceType = (typeof NAMESPACE_TYPES)[number];
export type LinuxIDMapping = Static<typeof LinuxIDMappingSchema>;
export type LinuxDevice = Static<typeof LinuxDeviceSchema>;
export type LinuxDeviceCgroup = Static<typeof LinuxDeviceCgroupSchema>;
export type LinuxResources = Static<typeof LinuxResourcesSchema>;
export type LinuxMemory = Static<typeof LinuxMemorySchema>;
export type LinuxCPU = Static<typeof LinuxCPUSchema>;
export type LinuxPids = Static<typeof LinuxPidsSchema>;
export type LinuxBlockIO = Static<typeof LinuxBlockIOSchema>;
export type LinuxWeightDevice = Static<typeof LinuxWeightDeviceSchema>;
export type LinuxThrottleDevice = Static<typeof LinuxThrottleDeviceSchema>;
export type LinuxHugepageLimit = Static<typeof LinuxHugepageLimitSchema>;
export type LinuxNetwork = Static<typeof LinuxNetworkSchema>;
export type LinuxRdma = Static<typeof LinuxRdmaSchema>;
export type LinuxSeccomp = Static<typeof LinuxSeccompSchema>;
export type LinuxSyscall = Static<typeof LinuxSyscallSchema>;
export type LinuxSeccompArg = Static<typeof LinuxSeccompArgSchema>;
export type LinuxSeccompAction = (typeof SECCOMP_ACTIONS)[number];
export type LinuxSeccompOperator = (typeof SECCOMP_OPERATORS)[number];
export type LinuxSeccompArch = (typeof SECCOMP_ARCHES)[number];
export type LinuxIntelRdt = Static<typeof LinuxIntelRdtSchema>;
export type LinuxPersonality = Static<typeof LinuxPersonalitySchema>;
export type LinuxTimeOffset = Static<typeof LinuxTimeOffsetSchema>;
export type LinuxNetDevice = Static<typeof LinuxNetDeviceSchema>;
export type LinuxMemoryPolicy = Static<typeof LinuxMemoryPolicySchema>;
export type ContainerStatus = (typeof CONTAINER_STATUSES)[number];
export type State = Static<typeof StateSchema>;
export type Features = Static<typeof FeaturesSchema>;
export type LinuxFeatures = Static<typeof LinuxFeaturesSchema>;

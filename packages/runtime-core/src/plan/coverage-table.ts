/**
 * What podrun does with every field of the runtime-spec config for Linux: the table behind the
 * "Runtime-spec coverage" section of the README, kept complete and true by coverage.spec.ts.
 *
 * The set of paths comes from one source, the TypeBox schema of `config.json` in @podkit/oci-spec
 * (`schemaOf('spec')`): a property is a segment, an array item or a map value is `*`. Only leaves
 * (scalars) are listed; an object is covered by its leaves.
 *
 * Each path is one of:
 * - `applied`: carried out; `test` names the test file that shows it (relative to runtime-core's
 *   src/, or to the repository root when it starts with `e2e/` or `packages/`). `refusedOn` lists
 *   the hosts that lack the kernel feature, where the same field is refused with its path instead.
 * - `refused`: rejected with an issue naming the field (`at`, default: the path with `*` as `0`);
 *   `set` is a config fragment that triggers it, laid over a valid base config.
 * - `ignored-by-spec`: the runtime-spec lets a Linux runtime ignore it.
 */
import type { FieldIssue } from '@podkit/errdefs';

/** A config fragment, deep-merged over the base config (objects merge, everything else replaces). */
export type Fragment = { [key: string]: unknown };

/**
 * Hosts where an applied field is refused because the kernel feature is missing there:
 * - `v1-here`: cgroup v1 with the controllers and files of this machine (kernel 6.18, hybrid: no
 *   net_cls, net_prio, rdma or v1 hugetlb; no CFQ, so no blkio leaf weights; BFQ's blkio.bfq.weight
 *   files, since the bfq module is loaded), less the files a refusal lists in `without`;
 * - `v2`: cgroup v2 (every controller delegated, every file present);
 * - `no-resctrl`: no resctrl filesystem mounted (this machine).
 */
export type Host = 'v1-here' | 'v2' | 'no-resctrl';

export interface Refusal {
  on: Host;
  set: Fragment;
  /** Control files the host model lacks (`v1-here` only): a kernel without them. */
  without?: string[];
  /** The issue path expected (default: the entry's path with every `*` as `0`). */
  at?: string;
  /** How the README names this host (default: from `on`). */
  where?: string;
}

export type Coverage =
  | { kind: 'applied'; test: string; mentions?: string; note?: string; refusedOn?: Refusal[] }
  | { kind: 'refused'; set: Fragment; at?: string; why: string }
  | { kind: 'ignored-by-spec'; why: string; test: string; mentions?: string };

// ---- the schema's paths ------------------------------------------------------------------------

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode | SchemaNode[];
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  allOf?: SchemaNode[];
}

/**
 * Every leaf path of a JSON Schema: properties, array items, map values (patternProperties and
 * schema-valued additionalProperties) and the branches of unions, in schema order, without repeats.
 */
export function schemaLeafPaths(schema: object): string[] {
  const out: string[] = [];
  const walk = (s: SchemaNode, p: string): void => {
    const branches = [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])];
    if (branches.length > 0) {
      for (const b of branches) walk(b, p);
      return;
    }
    const types = Array.isArray(s.type) ? s.type : [s.type];
    let inner = false;
    if (types.includes('object') || s.properties || s.patternProperties || typeof s.additionalProperties === 'object') {
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        inner = true;
        walk(v, `${p}/${k}`);
      }
      for (const v of Object.values(s.patternProperties ?? {})) {
        inner = true;
        walk(v, `${p}/*`);
      }
      if (typeof s.additionalProperties === 'object') {
        inner = true;
        walk(s.additionalProperties, `${p}/*`);
      }
    }
    if (types.includes('array') || s.items) {
      for (const it of Array.isArray(s.items) ? s.items : s.items ? [s.items] : []) {
        inner = true;
        walk(it, `${p}/*`);
      }
    }
    if (!inner && !out.includes(p)) out.push(p);
  };
  walk(schema as SchemaNode, '');
  return out;
}

/** The issue path a refusal expects: `at`, else the entry's path with every `*` as `0`. */
export function expectedPath(path: string, at: string | undefined): string {
  return at ?? path.replace(/\*/g, '0');
}

/** Whether `issues` name `path` exactly. */
export function names(issues: readonly FieldIssue[], path: string): boolean {
  return issues.some((i) => i.path === path);
}

// ---- the table -------------------------------------------------------------------------------------

const applied = (test: string, more: Omit<Extract<Coverage, { kind: 'applied' }>, 'kind' | 'test'> = {}): Coverage => ({ kind: 'applied', test, ...more });
const refused = (set: Fragment, why: string, at?: string): Coverage => ({ kind: 'refused', set, why, ...(at ? { at } : {}) });
const R = (set: Fragment): Fragment => ({ linux: { resources: set } });

const RUNTIME = 'container/runtime.priv.spec.ts';
const CG_REAL = 'container/cgroups-res.priv.spec.ts';
const CG_V1_FAKE = 'cgroups/v1.spec.ts';
const CG_V2_FAKE = 'cgroups/v2.spec.ts';
const SECCOMP = 'container/seccomp.priv.spec.ts';
const SCHED = 'container/sched.priv.spec.ts';

const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

const hooks: Record<string, Coverage> = Object.fromEntries(
  HOOK_KINDS.flatMap((k) =>
    ['path', 'args/*', 'env/*', 'timeout'].map((f) => [
      `/hooks/${k}/*/${f}`,
      applied('container/hooks.priv.spec.ts', { mentions: k, note: k === 'prestart' ? 'deprecated by the spec, still honoured (as runc)' : undefined }),
    ]),
  ),
);

const idMap = (base: string, test: string): Record<string, Coverage> =>
  Object.fromEntries(['containerID', 'hostID', 'size'].map((f) => [`${base}/*/${f}`, applied(test, { mentions: f === 'size' ? base.split('/').pop() : f })]));

const throttle = (name: string): Record<string, Coverage> =>
  Object.fromEntries(
    ['major', 'minor', 'rate'].map((f) => [`/linux/resources/blockIO/${name}/*/${f}`, applied(CG_REAL, { mentions: name, note: 'real blkio.throttle.* files of a real container (major:minor of a real disk)' })]),
  );

const notHere = (set: Fragment, at?: string): Refusal[] => [{ on: 'v1-here', set: R(set), ...(at ? { at } : {}) }];
/** v1 without a proportional-weight I/O scheduler's files: CFQ's (gone since Linux 5.0) and BFQ's (present while the bfq module is loaded). */
const notWeighted = (set: Fragment): Refusal[] => [
  { on: 'v1-here', set: R(set), without: ['blkio.weight', 'blkio.weight_device', 'blkio.bfq.weight', 'blkio.bfq.weight_device'], where: 'on v1 without CFQ or BFQ weight files' },
];
const notOnV2 = (set: Fragment, at?: string): Refusal[] => [{ on: 'v2', set: R(set), ...(at ? { at } : {}) }];

const RDT_NOTE = 'a CLOS group of the resctrl filesystem (schemata, tasks), joined by exec processes; resctrl is not mounted here: real containers in a fake resctrl tree';
const rdt = (field: string, value: unknown, test = 'container/intelrdt.priv.spec.ts'): Coverage =>
  applied(test, { note: RDT_NOTE, refusedOn: [{ on: 'no-resctrl', set: { linux: { intelRdt: { [field]: value } } }, at: '/linux/intelRdt' }] });

const MEMPOLICY_WHY = 'runtime-spec 1.3: the NUMA memory policy (set_mempolicy in podkit-init) is not applied yet';
const LSM_WHY = 'the LSM is not enabled on this host (the message gives the evidence); where it is, podrun cannot apply it yet';

export const COVERAGE: Record<string, Coverage> = {
  '/ociVersion': applied('packages/oci-spec/src/runtime-spec.spec.ts', { note: 'checked: any 1.x version' }),

  // ---- process
  '/process/terminal': applied('e2e/src/security/console.priv.spec.ts'),
  '/process/consoleSize/height': applied('plan/build.spec.ts', { mentions: 'consoleSize', note: 'TIOCSWINSZ on the pty in podkit-init; tested at the plan only' }),
  '/process/consoleSize/width': applied('plan/build.spec.ts', { mentions: 'consoleSize', note: 'TIOCSWINSZ on the pty in podkit-init; tested at the plan only' }),
  '/process/user/uid': applied(RUNTIME),
  '/process/user/gid': applied(RUNTIME),
  '/process/user/umask': applied(RUNTIME),
  '/process/user/additionalGids/*': applied(RUNTIME),
  '/process/user/username': refused({ process: { user: { uid: 0, gid: 0, username: 'someone' } } }, 'a Windows field'),
  '/process/args/*': applied(RUNTIME),
  '/process/commandLine': refused({ process: { commandLine: 'cmd /c dir' } }, 'a Windows field'),
  '/process/env/*': applied(RUNTIME),
  '/process/cwd': applied(RUNTIME),
  '/process/capabilities/bounding/*': applied(RUNTIME),
  '/process/capabilities/effective/*': applied(RUNTIME),
  '/process/capabilities/inheritable/*': applied(RUNTIME),
  '/process/capabilities/permitted/*': applied(RUNTIME),
  '/process/capabilities/ambient/*': applied(RUNTIME),
  '/process/rlimits/*/type': applied(RUNTIME, { mentions: 'rlimits' }),
  '/process/rlimits/*/hard': applied(RUNTIME, { mentions: 'rlimits' }),
  '/process/rlimits/*/soft': applied(RUNTIME, { mentions: 'rlimits' }),
  '/process/noNewPrivileges': applied(RUNTIME),
  '/process/apparmorProfile': refused({ process: { apparmorProfile: 'docker-default' } }, LSM_WHY),
  '/process/oomScoreAdj': applied(SCHED, { note: 'a negative value fails with the kernel\'s EPERM here (the bounding set lacks CAP_SYS_RESOURCE)' }),
  '/process/scheduler/policy': applied(SCHED, { mentions: 'SCHED_' }),
  '/process/scheduler/nice': applied(SCHED),
  '/process/scheduler/priority': applied(SCHED, { mentions: 'SCHED_FIFO' }),
  '/process/scheduler/flags/*': applied('plan/process-attrs.spec.ts', { mentions: 'SCHED_FLAG_', note: 'passed to sched_setattr; tested at the plan only' }),
  '/process/scheduler/runtime': applied(SCHED, { mentions: 'SCHED_DEADLINE' }),
  '/process/scheduler/deadline': applied(SCHED, { mentions: 'SCHED_DEADLINE' }),
  '/process/scheduler/period': applied(SCHED, { mentions: 'SCHED_DEADLINE' }),
  '/process/selinuxLabel': refused({ process: { selinuxLabel: 'system_u:system_r:container_t:s0' } }, LSM_WHY),
  '/process/ioPriority/class': applied(SCHED, { mentions: 'ioPriority' }),
  '/process/ioPriority/priority': applied(SCHED, { mentions: 'ioPriority' }),
  '/process/execCPUAffinity/initial': applied(SCHED, { mentions: 'initial', note: 'exec processes only: the spec says it does not apply to the container\'s init' }),
  '/process/execCPUAffinity/final': applied(SCHED, { mentions: 'final', note: 'exec processes only: the spec says it does not apply to the container\'s init' }),

  // ---- root, names, mounts, hooks, annotations
  '/root/path': applied(RUNTIME, { mentions: 'rootfs' }),
  '/root/readonly': applied(RUNTIME),
  '/hostname': applied(RUNTIME),
  '/domainname': applied(RUNTIME),
  '/mounts/*/destination': applied(RUNTIME),
  '/mounts/*/type': applied(RUNTIME, { mentions: 'mqueue' }),
  '/mounts/*/source': applied(RUNTIME),
  '/mounts/*/options/*': applied('container/mountattr.priv.spec.ts', { mentions: 'rro', note: 'flags, propagation, filesystem data, recursive attributes (rro, rnosuid...), idmap/ridmap' }),
  ...idMap('/mounts/*/uidMappings', 'container/mountattr.priv.spec.ts'),
  ...idMap('/mounts/*/gidMappings', 'container/mountattr.priv.spec.ts'),
  ...hooks,
  '/annotations/*': applied('container/hooks.priv.spec.ts', { mentions: 'annotations', note: 'reported in the state (podrun state, the hooks\' stdin, the seccomp agent)' }),

  // ---- linux: ids, time, sysctl
  ...idMap('/linux/uidMappings', 'container/userns.priv.spec.ts'),
  ...idMap('/linux/gidMappings', 'container/userns.priv.spec.ts'),
  '/linux/timeOffsets/boottime/secs': applied('container/timens.priv.spec.ts', { mentions: 'boottime' }),
  '/linux/timeOffsets/boottime/nanosecs': applied('container/timens.priv.spec.ts'),
  '/linux/timeOffsets/monotonic/secs': applied('container/timens.priv.spec.ts', { mentions: 'monotonic' }),
  '/linux/timeOffsets/monotonic/nanosecs': applied('container/timens.priv.spec.ts'),
  '/linux/sysctl/*': applied('container/sysctl.priv.spec.ts', { mentions: 'sysctl', note: 'only sysctls of a namespace the container owns; others are refused with their path' }),

  // ---- linux.resources
  '/linux/resources/devices/*/allow': applied(CG_REAL, { note: 'v1 devices.allow/deny; v2 an eBPF program (cgroups/devicefilter.priv.spec.ts, real cgroup2 mount)' }),
  '/linux/resources/devices/*/type': applied(CG_REAL, { mentions: 'devices' }),
  '/linux/resources/devices/*/major': applied(CG_REAL, { mentions: 'devices' }),
  '/linux/resources/devices/*/minor': applied(CG_REAL, { mentions: 'devices' }),
  '/linux/resources/devices/*/access': applied(CG_REAL),
  '/linux/resources/memory/limit': applied(RUNTIME, { mentions: 'memory' }),
  '/linux/resources/memory/reservation': applied(CG_V1_FAKE),
  '/linux/resources/memory/swap': applied(CG_V1_FAKE),
  '/linux/resources/memory/kernel': {
    kind: 'ignored-by-spec',
    why: 'deprecated by the spec ("may be ignored by runtimes"): kernel memory limits are obsolete since Linux 5.4 and absent on v2; podrun warns, as runc since 1.1',
    test: 'cgroups/backend.spec.ts',
    mentions: 'kernel',
  },
  '/linux/resources/memory/kernelTCP': applied(CG_REAL, { refusedOn: notOnV2({ memory: { kernelTCP: 1048576 } }) }),
  '/linux/resources/memory/swappiness': applied(CG_V1_FAKE, { refusedOn: notOnV2({ memory: { swappiness: 10 } }) }),
  '/linux/resources/memory/disableOOMKiller': applied(CG_V1_FAKE, { refusedOn: notOnV2({ memory: { disableOOMKiller: true } }) }),
  '/linux/resources/memory/useHierarchy': applied('plan/coverage.spec.ts', { note: 'memory.use_hierarchy on v1; v2 is always hierarchical (false is refused)', refusedOn: notOnV2({ memory: { useHierarchy: false } }) }),
  '/linux/resources/memory/checkBeforeUpdate': applied(CG_V2_FAKE, { note: 'a limit below the current usage is refused (v1 and v2)' }),
  '/linux/resources/cpu/shares': applied(RUNTIME),
  '/linux/resources/cpu/quota': applied(CG_REAL),
  '/linux/resources/cpu/burst': applied(CG_REAL),
  '/linux/resources/cpu/period': applied(CG_REAL),
  '/linux/resources/cpu/realtimeRuntime': applied(CG_REAL, { refusedOn: notOnV2({ cpu: { realtimeRuntime: 1000 } }) }),
  '/linux/resources/cpu/realtimePeriod': applied(CG_REAL, { refusedOn: notOnV2({ cpu: { realtimePeriod: 1000000 } }) }),
  '/linux/resources/cpu/cpus': applied(RUNTIME),
  '/linux/resources/cpu/mems': applied(CG_V1_FAKE),
  '/linux/resources/cpu/idle': applied(CG_REAL),
  '/linux/resources/pids/limit': applied(RUNTIME, { mentions: 'pids' }),
  '/linux/resources/blockIO/weight': applied(CG_REAL, {
    note: 'blkio.weight (CFQ) or blkio.bfq.weight (BFQ); v2 io.weight / io.bfq.weight',
    refusedOn: notWeighted({ blockIO: { weight: 500 } }),
  }),
  '/linux/resources/blockIO/leafWeight': applied(CG_V1_FAKE, {
    note: 'CFQ only (removed in Linux 5.0)',
    refusedOn: [...notHere({ blockIO: { leafWeight: 500 } }), ...notOnV2({ blockIO: { leafWeight: 500 } })],
  }),
  '/linux/resources/blockIO/weightDevice/*/major': applied(CG_REAL, { mentions: 'weightDevice' }),
  '/linux/resources/blockIO/weightDevice/*/minor': applied(CG_REAL, { mentions: 'weightDevice' }),
  '/linux/resources/blockIO/weightDevice/*/weight': applied(CG_REAL, {
    mentions: 'weightDevice',
    note: 'here the kernel refuses it (EOPNOTSUPP, named) for a disk whose scheduler is not BFQ',
    refusedOn: notWeighted({ blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 500 }] } }),
  }),
  '/linux/resources/blockIO/weightDevice/*/leafWeight': applied(CG_V1_FAKE, {
    refusedOn: [
      ...notHere({ blockIO: { weightDevice: [{ major: 8, minor: 0, leafWeight: 500 }] } }),
      ...notOnV2({ blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 500 }] } }),
    ],
  }),
  ...throttle('throttleReadBpsDevice'),
  ...throttle('throttleWriteBpsDevice'),
  ...throttle('throttleReadIOPSDevice'),
  ...throttle('throttleWriteIOPSDevice'),
  '/linux/resources/hugepageLimits/*/pageSize': applied(CG_V1_FAKE, {
    mentions: 'hugepageLimits',
    note: 'fake trees only: here hugetlb is only in the cgroup2 mount, "controller not available here"',
    refusedOn: notHere({ hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }] }, '/linux/resources/hugepageLimits/0'),
  }),
  '/linux/resources/hugepageLimits/*/limit': applied(CG_V1_FAKE, {
    mentions: 'hugepageLimits',
    note: 'fake trees only: here hugetlb is only in the cgroup2 mount, "controller not available here"',
    refusedOn: notHere({ hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }] }, '/linux/resources/hugepageLimits/0'),
  }),
  '/linux/resources/network/classID': applied(CG_V1_FAKE, {
    note: 'net_cls is not mounted here: fake v1 tree only',
    refusedOn: [...notHere({ network: { classID: 1048577 } }), ...notOnV2({ network: { classID: 1048577 } }, '/linux/resources/network')],
  }),
  '/linux/resources/network/priorities/*/name': applied(CG_V1_FAKE, {
    mentions: 'priorities',
    note: 'net_prio is not mounted here: fake v1 tree only',
    refusedOn: [...notHere({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }, '/linux/resources/network/priorities/0'), ...notOnV2({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }, '/linux/resources/network')],
  }),
  '/linux/resources/network/priorities/*/priority': applied(CG_V1_FAKE, {
    mentions: 'priorities',
    note: 'net_prio is not mounted here: fake v1 tree only',
    refusedOn: [...notHere({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }, '/linux/resources/network/priorities/0'), ...notOnV2({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }, '/linux/resources/network')],
  }),
  '/linux/resources/rdma/*/hcaHandles': applied(CG_V1_FAKE, {
    note: 'the rdma controller is not mounted here: fake v1 and v2 trees only',
    refusedOn: notHere({ rdma: { mlx5_0: { hcaHandles: 3 } } }, '/linux/resources/rdma/mlx5_0'),
  }),
  '/linux/resources/rdma/*/hcaObjects': applied(CG_V1_FAKE, { note: 'the rdma controller is not mounted here: fake v1 and v2 trees only', refusedOn: notHere({ rdma: { mlx5_0: { hcaObjects: 100 } } }, '/linux/resources/rdma/mlx5_0') }),
  '/linux/resources/unified/*': applied(CG_V2_FAKE, {
    mentions: 'unified',
    note: 'cgroup v2 only (fake tree): keys checked like runc',
    refusedOn: notHere({ unified: { 'memory.high': '1000000' } }, '/linux/resources/unified'),
  }),

  // ---- linux: cgroups, namespaces, devices, seccomp, rootfs
  '/linux/cgroupsPath': applied(CG_REAL),
  '/linux/namespaces/*/type': applied(RUNTIME, { mentions: 'namespaces' }),
  '/linux/namespaces/*/path': applied(RUNTIME, { mentions: 'joins another container namespaces by path' }),
  '/linux/devices/*/path': applied(RUNTIME, { mentions: 'linux.devices' }),
  '/linux/devices/*/type': applied(RUNTIME, { mentions: 'linux.devices' }),
  '/linux/devices/*/major': applied(RUNTIME, { mentions: 'linux.devices' }),
  '/linux/devices/*/minor': applied(RUNTIME, { mentions: 'linux.devices' }),
  '/linux/devices/*/fileMode': applied(RUNTIME),
  '/linux/devices/*/uid': applied(RUNTIME, { mentions: 'linux.devices' }),
  '/linux/devices/*/gid': applied(RUNTIME, { mentions: 'linux.devices' }),
  '/linux/netDevices/*/name': applied('container/netdevices.priv.spec.ts', { mentions: 'netDevices', note: 'the host interface is moved into the container\'s own network namespace (and renamed); tested in network namespaces the test makes' }),
  '/linux/seccomp/defaultAction': applied(SECCOMP),
  '/linux/seccomp/defaultErrnoRet': applied(SECCOMP),
  '/linux/seccomp/architectures/*': applied(SECCOMP),
  '/linux/seccomp/flags/*': applied(SECCOMP, { mentions: 'SECCOMP_FILTER_FLAG_' }),
  '/linux/seccomp/listenerPath': applied('container/seccomp-notify.priv.spec.ts', { note: 'with SCMP_ACT_NOTIFY; without it the spec says it is ignored' }),
  '/linux/seccomp/listenerMetadata': applied('container/seccomp-notify.priv.spec.ts'),
  '/linux/seccomp/syscalls/*/names/*': applied(SECCOMP, { mentions: 'names' }),
  '/linux/seccomp/syscalls/*/action': applied(SECCOMP, { mentions: 'action' }),
  '/linux/seccomp/syscalls/*/errnoRet': applied(SECCOMP),
  '/linux/seccomp/syscalls/*/args/*/index': applied(SECCOMP, { mentions: 'index' }),
  '/linux/seccomp/syscalls/*/args/*/value': applied(SECCOMP, { mentions: 'value' }),
  '/linux/seccomp/syscalls/*/args/*/valueTwo': applied(SECCOMP),
  '/linux/seccomp/syscalls/*/args/*/op': applied(SECCOMP, { mentions: 'SCMP_CMP_MASKED_EQ' }),
  '/linux/rootfsPropagation': applied(RUNTIME),
  '/linux/maskedPaths/*': applied(RUNTIME, { mentions: 'masks paths, makes paths and the root read-only', note: 'the default config\'s lists (/proc/keys reads empty, /proc/sys is read-only)' }),
  '/linux/readonlyPaths/*': applied(RUNTIME, { mentions: 'masks paths, makes paths and the root read-only', note: 'the default config\'s lists (/proc/keys reads empty, /proc/sys is read-only)' }),
  '/linux/mountLabel': refused({ linux: { mountLabel: 'system_u:object_r:container_file_t:s0' } }, LSM_WHY),
  '/linux/intelRdt/closID': rdt('closID', 'gold'),
  '/linux/intelRdt/l3CacheSchema': rdt('l3CacheSchema', 'L3:0=ff'),
  '/linux/intelRdt/memBwSchema': rdt('memBwSchema', 'MB:0=50'),
  '/linux/intelRdt/enableCMT': rdt('enableCMT', true, 'intelrdt/resctrl.spec.ts'),
  '/linux/intelRdt/enableMBM': rdt('enableMBM', true, 'intelrdt/resctrl.spec.ts'),
  '/linux/intelRdt/schemata/*': refused({ linux: { intelRdt: { schemata: ['L3:0=ff', 'MB:0=50'] } } }, 'runtime-spec 1.3: not applied yet (l3CacheSchema and memBwSchema are)', '/linux/intelRdt/schemata'),
  '/linux/intelRdt/enableMonitoring': refused({ linux: { intelRdt: { enableMonitoring: true } } }, 'runtime-spec 1.3: a monitoring group is not made yet'),
  '/linux/memoryPolicy/mode': refused({ linux: { memoryPolicy: { mode: 'MPOL_BIND', nodes: '0' } } }, MEMPOLICY_WHY, '/linux/memoryPolicy'),
  '/linux/memoryPolicy/nodes': refused({ linux: { memoryPolicy: { mode: 'MPOL_INTERLEAVE', nodes: '0-1' } } }, MEMPOLICY_WHY, '/linux/memoryPolicy'),
  '/linux/memoryPolicy/flags/*': refused({ linux: { memoryPolicy: { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] } } }, MEMPOLICY_WHY, '/linux/memoryPolicy'),
  '/linux/personality/domain': applied('container/timens.priv.spec.ts', { mentions: 'LINUX32', note: 'for exec processes too, as runc' }),
  '/linux/personality/flags/*': applied('container/timens.priv.spec.ts', { mentions: 'ADDR_NO_RANDOMIZE', note: 'for exec processes too, as runc' }),
};

/**
 * Top-level sections of the config that are not in the Linux schema: other platforms' sections.
 * config.md sets each only when the target platform is that one; a Linux runtime has nothing to
 * apply, and the schema lets unknown properties through, as the spec requires.
 */
export const OTHER_PLATFORMS: Record<string, string> = {
  '/windows': 'Windows-specific configuration (config-windows.md)',
  '/solaris': 'Solaris-specific configuration (config-solaris.md)',
  '/vm': 'configuration of virtual-machine-based containers (config-vm.md)',
  '/zos': 'z/OS-specific configuration (config-zos.md)',
  '/freebsd': 'FreeBSD-specific configuration (config-freebsd.md)',
};

// ---- the README table ------------------------------------------------------------------------------

const WHERE: Record<Host, string> = { 'v1-here': 'here (cgroup v1)', v2: 'on cgroup v2', 'no-resctrl': 'here (no resctrl)' };

interface Trie {
  [segment: string]: Trie;
}

/** A trie node as text: one child `a/…`, several `{a, b}/…` when they end alike, else `{a/…, b/…}`. */
function renderTrie(t: Trie): string {
  const kids = Object.entries(t).map(([k, sub]) => [k, renderTrie(sub)] as const);
  if (kids.length === 0) return '';
  const join = (k: string, rest: string) => (rest ? `${k}/${rest}` : k);
  if (kids.length === 1) return join(kids[0]?.[0] as string, kids[0]?.[1] as string);
  const rests = new Set(kids.map(([, r]) => r));
  if (rests.size === 1) return join(`{${kids.map(([k]) => k).join(', ')}}`, [...rests][0] as string);
  return `{${kids.map(([k, r]) => join(k, r)).join(', ')}}`;
}

/** Several paths as one: `/linux/timeOffsets/{boottime, monotonic}/{secs, nanosecs}`. */
export function compressPaths(paths: readonly string[]): string {
  const root: Trie = {};
  for (const p of paths) {
    let node = root;
    for (const seg of p.split('/').slice(1)) node = node[seg] ??= {};
  }
  return `/${renderTrie(root)}`;
}

function status(c: Coverage): string {
  if (c.kind === 'refused') return 'refused';
  if (c.kind === 'ignored-by-spec') return 'ignored (the spec allows it)';
  const hosts = [...new Set((c.refusedOn ?? []).map((r) => r.where ?? WHERE[r.on]))];
  return hosts.length ? `applied; refused ${hosts.join(', ')}` : 'applied';
}

function detail(c: Coverage): string {
  if (c.kind === 'refused') return c.why;
  const test = `\`${c.test}\``;
  const note = c.kind === 'ignored-by-spec' ? c.why : c.note;
  return note ? `${test}: ${note}` : test;
}

/**
 * The coverage table as Markdown, one row per run of consecutive paths with the same status and
 * evidence (README.md "Runtime-spec coverage" holds this text; coverage.spec.ts checks it).
 */
export function coverageMarkdown(table: Record<string, Coverage> = COVERAGE): string {
  const rows: { paths: string[]; status: string; detail: string }[] = [];
  for (const [p, c] of Object.entries(table)) {
    const last = rows[rows.length - 1];
    const st = status(c);
    const d = detail(c);
    if (last && last.status === st && last.detail === d && last.paths[0]?.split('/')[1] === p.split('/')[1]) last.paths.push(p);
    else rows.push({ paths: [p], status: st, detail: d });
  }
  const esc = (x: string) => x.replace(/\|/g, '\\|');
  return [
    '| Fields | What podrun does | Shown by / why |',
    '|---|---|---|',
    ...rows.map((r) => `| \`${compressPaths(r.paths)}\` | ${esc(r.status)} | ${esc(r.detail)} |`),
    ...Object.entries(OTHER_PLATFORMS).map(([p, why]) => `| \`${p}\` | ignored (the spec allows it) | not a Linux section: ${why} |`),
  ].join('\n');
}

/**
 * Turns a validated OCI config into a plan for podkit-init. Everything is decided here, in
 * TypeScript: option strings become flags, names become numbers, relative paths are made absolute
 * against the bundle, defaults are filled in, and fields this runtime does not support yet are
 * rejected with their JSON path (never ignored silently).
 */
import * as path from 'node:path';
import { invalidDocument, type FieldIssue } from '@podkit/errdefs';
import type { LinuxDevice, LinuxSeccomp, Mount, Process, Spec } from '@podkit/oci-spec';
import { MS, parseMountOptions, propagationFlags } from '../sys/mount';
import { CAPABILITIES, DEFAULT_DEVICES, NS_PROC_NAME, RLIMITS, SUPPORTED_NAMESPACES } from './tables';
import type { Plan, PlanCapabilities, PlanDevice, PlanHook, PlanMount, PlanProcess, PlanRootfs } from './types';

export interface CreatePlanContext {
  /** Absolute bundle directory (relative paths in the config are resolved against it). */
  bundle: string;
  /** The exec FIFO init blocks on until `start`. */
  execFifo: string;
  /** The container's cgroup per v1 hierarchy (`name` is the hierarchy's folder under /sys/fs/cgroup). */
  cgroupMounts: { name: string; source: string }[];
  /** On a cgroup v2 host: the container's cgroup folder, which a `cgroup` mount binds (read-only as asked). */
  cgroupV2Dir?: string;
  /** Use MS_MOVE + chroot instead of pivot_root (`--no-pivot`). */
  noPivot?: boolean;
  /** `--console-socket`: where the pty master of a `process.terminal` container is sent. */
  consoleSocket?: string;
  /** `--preserve-fds`: how many fds from 3 on the process keeps. */
  preserveFds?: number;
}

/**
 * The console part of a plan. As runc: a terminal needs a console socket (podrun never holds the pty
 * master itself), and a console socket needs a terminal.
 */
export function consolePlan(proc: Process | undefined, base: string, consoleSocket: string | undefined, issues: FieldIssue[]): Plan['console'] {
  if (proc?.terminal) {
    if (!consoleSocket) {
      issues.push({ path: `${base}/terminal`, reason: 'a terminal needs --console-socket (the pty master is sent there)' });
      return undefined;
    }
    if (!consoleSocket.startsWith('/')) issues.push({ path: '--console-socket', reason: 'must be an absolute path' });
    return { socket: consoleSocket, ...(proc.consoleSize ? { height: proc.consoleSize.height, width: proc.consoleSize.width } : {}) };
  }
  if (consoleSocket) issues.push({ path: '--console-socket', reason: `needs a terminal (${base}/terminal is false)` });
  return undefined;
}

/** Fields of a config this runtime rejects for now, each with a reason. */
export function unsupportedIssues(spec: Spec): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const later = (p: string, what: string) => issues.push({ path: p, reason: `${what} is not supported by podrun yet` });
  if (spec.process) processUnsupported(spec.process, '/process', issues);
  if (spec.hooks) hookIssues(spec.hooks, issues);
  const l = spec.linux;
  if (l) {
    l.namespaces?.forEach((ns, i) => {
      if (!(SUPPORTED_NAMESPACES as readonly string[]).includes(ns.type)) later(`/linux/namespaces/${i}/type`, `a ${ns.type} namespace`);
    });
    if (l.uidMappings) later('/linux/uidMappings', 'uid mappings');
    if (l.gidMappings) later('/linux/gidMappings', 'gid mappings');
    if (l.seccomp) seccompIssues(l.seccomp, '/linux/seccomp', issues);
    if (l.intelRdt) later('/linux/intelRdt', 'Intel RDT');
    if (l.personality) later('/linux/personality', 'personality');
    if (l.timeOffsets) later('/linux/timeOffsets', 'time offsets');
    if (l.mountLabel) later('/linux/mountLabel', 'SELinux mount labels');
    if (l.netDevices) later('/linux/netDevices', 'network devices');
    const r = l.resources;
    if (r) {
      if (r.blockIO) later('/linux/resources/blockIO', 'blkio limits');
      if (r.network) later('/linux/resources/network', 'network classes/priorities');
      if (r.rdma) later('/linux/resources/rdma', 'rdma limits');
      if (r.unified) later('/linux/resources/unified', 'cgroup v2 unified settings (this host uses cgroup v1)');
      if (r.memory?.kernel !== undefined) later('/linux/resources/memory/kernel', 'kernel memory limits');
      if (r.memory?.kernelTCP !== undefined) later('/linux/resources/memory/kernelTCP', 'kernel TCP memory limits');
      if (r.cpu?.realtimeRuntime !== undefined) later('/linux/resources/cpu/realtimeRuntime', 'realtime CPU runtime');
      if (r.cpu?.realtimePeriod !== undefined) later('/linux/resources/cpu/realtimePeriod', 'realtime CPU period');
    }
  }
  spec.mounts?.forEach((m, i) => {
    if (m.uidMappings || m.gidMappings) later(`/mounts/${i}`, 'idmapped mounts');
  });
  return issues;
}

/** Longest hook timeout (seconds): the init waits with poll(2), whose timeout is an int of ms. */
export const MAX_HOOK_TIMEOUT = 2_000_000;

/** Architectures the libseccomp podkit-init links (2.5) does not know. */
const SECCOMP_UNKNOWN_ARCHES = ['SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB'];

/**
 * What of a (schema-valid) seccomp profile podkit-init cannot load: user notification (NOTIFY and its
 * listener) and what libseccomp 2.5 lacks. Unknown syscall names are not an issue: they are skipped
 * when the filter is built, as runc does.
 */
export function seccompIssues(s: LinuxSeccomp, base: string, issues: FieldIssue[]): void {
  const notify = 'SCMP_ACT_NOTIFY (a seccomp user-notification listener) is not supported by podrun yet';
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') issues.push({ path: `${base}/defaultAction`, reason: notify });
  if (s.listenerPath !== undefined) issues.push({ path: `${base}/listenerPath`, reason: 'a seccomp user-notification listener is not supported by podrun yet' });
  s.architectures?.forEach((a, i) => {
    if (SECCOMP_UNKNOWN_ARCHES.includes(a)) issues.push({ path: `${base}/architectures/${i}`, reason: `${a} is not known to the libseccomp podkit-init is built with (2.5)` });
  });
  s.flags?.forEach((f, i) => {
    if (f === 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV') issues.push({ path: `${base}/flags/${i}`, reason: `${f} is not supported by podrun (it only applies to user notification)` });
  });
  s.syscalls?.forEach((r, i) => {
    if (r.action === 'SCMP_ACT_NOTIFY') issues.push({ path: `${base}/syscalls/${i}/action`, reason: notify });
  });
}

function hookIssues(hooks: NonNullable<Spec['hooks']>, issues: FieldIssue[]): void {
  for (const [kind, list] of Object.entries(hooks)) {
    (list ?? []).forEach((h, i) => {
      const base = `/hooks/${kind}/${i}`;
      if (typeof h.path !== 'string' || !h.path.startsWith('/')) issues.push({ path: `${base}/path`, reason: 'must be an absolute path' });
      if (h.timeout !== undefined && (!Number.isInteger(h.timeout) || h.timeout < 1 || h.timeout > MAX_HOOK_TIMEOUT)) {
        issues.push({ path: `${base}/timeout`, reason: `must be an integer from 1 to ${MAX_HOOK_TIMEOUT} (seconds)` });
      }
      (h.env ?? []).forEach((kv, j) => {
        if (!kv.includes('=') || kv.startsWith('=')) issues.push({ path: `${base}/env/${j}`, reason: 'must be NAME=value' });
      });
    });
  }
}

/** The hooks podkit-init runs inside the container. */
function planHooks(hooks: Spec['hooks']): Plan['hooks'] {
  const pick = (l: PlanHook[] | undefined) => (l ?? []).map((h) => ({ path: h.path, ...(h.args ? { args: [...h.args] } : {}), ...(h.env ? { env: [...h.env] } : {}), ...(h.timeout ? { timeout: h.timeout } : {}) }));
  const createContainer = pick(hooks?.createContainer);
  const startContainer = pick(hooks?.startContainer);
  if (!createContainer.length && !startContainer.length) return undefined;
  return { ...(createContainer.length ? { createContainer } : {}), ...(startContainer.length ? { startContainer } : {}) };
}

function processUnsupported(p: Process, base: string, issues: FieldIssue[]): void {
  const later = (f: string, what: string) => issues.push({ path: `${base}/${f}`, reason: `${what} is not supported by podrun yet` });
  if (p.apparmorProfile) later('apparmorProfile', 'AppArmor');
  if (p.selinuxLabel) later('selinuxLabel', 'SELinux');
  if (p.scheduler) later('scheduler', 'scheduler settings');
  if (p.ioPriority) later('ioPriority', 'I/O priority');
  if (p.execCPUAffinity) later('execCPUAffinity', 'exec CPU affinity');
  if (p.commandLine !== undefined) later('commandLine', 'commandLine (Windows)');
}

function capList(names: readonly string[] | undefined, field: string, issues: FieldIssue[]): number[] {
  const out: number[] = [];
  (names ?? []).forEach((n, i) => {
    const v = CAPABILITIES[n];
    if (v === undefined) issues.push({ path: `${field}/${i}`, reason: `unknown capability "${n}"` });
    else if (!out.includes(v)) out.push(v);
  });
  return out;
}

/** Builds the process part of a plan; problems are pushed to `issues`, warnings to `warnings`. */
export function buildProcess(p: Process, base: string, issues: FieldIssue[], warnings: string[], preserveFds = 0, seccomp?: LinuxSeccomp): PlanProcess {
  if (!Number.isInteger(preserveFds) || preserveFds < 0 || preserveFds > 1000) issues.push({ path: '--preserve-fds', reason: `must be an integer from 0 to 1000, got ${preserveFds}` });
  if (!p.cwd || !p.cwd.startsWith('/')) issues.push({ path: `${base}/cwd`, reason: 'must be an absolute path' });
  const rlimits: PlanProcess['rlimits'] = [];
  const seen = new Set<string>();
  (p.rlimits ?? []).forEach((r, i) => {
    const t = RLIMITS[r.type];
    if (t === undefined) issues.push({ path: `${base}/rlimits/${i}/type`, reason: `unknown rlimit "${r.type}"` });
    else if (seen.has(r.type)) issues.push({ path: `${base}/rlimits/${i}/type`, reason: `duplicate rlimit "${r.type}"` });
    else {
      seen.add(r.type);
      if (BigInt(r.soft) > BigInt(r.hard)) issues.push({ path: `${base}/rlimits/${i}/soft`, reason: 'must not exceed hard' });
      rlimits.push({ type: t, soft: String(r.soft), hard: String(r.hard) });
    }
  });
  let capabilities: PlanCapabilities | undefined;
  if (p.capabilities) {
    const c = p.capabilities;
    const cb = `${base}/capabilities`;
    capabilities = {
      bounding: capList(c.bounding, `${cb}/bounding`, issues),
      effective: capList(c.effective, `${cb}/effective`, issues),
      permitted: capList(c.permitted, `${cb}/permitted`, issues),
      inheritable: capList(c.inheritable, `${cb}/inheritable`, issues),
      ambient: [],
    };
    // As runc: an ambient capability must be both permitted and inheritable, else it is skipped.
    for (const [i, n] of (c.ambient ?? []).entries()) {
      const v = CAPABILITIES[n];
      if (v === undefined) {
        issues.push({ path: `${cb}/ambient/${i}`, reason: `unknown capability "${n}"` });
      } else if (!capabilities.permitted.includes(v) || !capabilities.inheritable.includes(v)) {
        warnings.push(`ambient capability ${n} skipped: it is not both permitted and inheritable`);
      } else if (!capabilities.ambient.includes(v)) {
        capabilities.ambient.push(v);
      }
    }
  }
  const u = p.user ?? { uid: 0, gid: 0 };
  if (u.username !== undefined) issues.push({ path: `${base}/user/username`, reason: 'is a Windows field; use uid and gid' });
  return {
    args: [...(p.args ?? [])],
    env: [...(p.env ?? [])],
    cwd: p.cwd,
    user: { uid: u.uid, gid: u.gid, additionalGids: [...(u.additionalGids ?? [])], ...(u.umask !== undefined ? { umask: u.umask } : {}) },
    rlimits,
    noNewPrivileges: p.noNewPrivileges === true,
    ...(p.oomScoreAdj !== undefined ? { oomScoreAdj: p.oomScoreAdj } : {}),
    ...(capabilities ? { capabilities } : {}),
    ...(seccomp ? { seccomp } : {}),
    preserveFds,
  };
}

function isBind(m: Mount, flags: number): boolean {
  return m.type === 'bind' || (flags & MS.BIND) !== 0;
}

function buildMount(m: Mount, i: number, ctx: CreatePlanContext, issues: FieldIssue[]): PlanMount | undefined {
  const base = `/mounts/${i}`;
  if (!m.destination.startsWith('/')) {
    issues.push({ path: `${base}/destination`, reason: 'must be an absolute path' });
    return undefined;
  }
  let parsed;
  try {
    parsed = parseMountOptions(m.options ?? [], `${base}/options`);
  } catch (err) {
    issues.push({ path: (err as { details?: { field?: string } }).details?.field ?? `${base}/options`, reason: (err as Error).message });
    return undefined;
  }
  const destination = path.posix.normalize(m.destination);
  if (m.type === 'cgroup' && ctx.cgroupV2Dir) {
    return { destination, type: 'bind', source: ctx.cgroupV2Dir, flags: parsed.flags | MS.BIND | MS.REC, data: '' };
  }
  if (m.type === 'cgroup') {
    return { destination, type: 'cgroup', source: '', flags: parsed.flags, data: '', kind: 'cgroup-v1', cgroups: ctx.cgroupMounts };
  }
  if (isBind(m, parsed.flags)) {
    if (!m.source) {
      issues.push({ path: `${base}/source`, reason: 'is required for a bind mount' });
      return undefined;
    }
    const source = path.resolve(ctx.bundle, m.source);
    return { destination, type: 'bind', source, flags: parsed.flags | MS.BIND, data: '', ...(parsed.propagation.length ? { propagation: parsed.propagation } : {}) };
  }
  if (!m.type) {
    issues.push({ path: `${base}/type`, reason: 'is required (except for bind mounts)' });
    return undefined;
  }
  return {
    destination,
    type: m.type,
    source: m.source ?? m.type,
    flags: parsed.flags,
    data: parsed.data,
    ...(parsed.propagation.length ? { propagation: parsed.propagation } : {}),
  };
}

function buildDevice(d: LinuxDevice, i: number, issues: FieldIssue[]): PlanDevice | undefined {
  const base = `/linux/devices/${i}`;
  // Normalised and still beneath /dev: `/dev/../etc/shadow` would replace an image file by a device node.
  if (!d.path.startsWith('/dev/') || d.path.split('/').some((c) => c === '..' || c === '.') || path.posix.normalize(d.path) !== d.path) {
    issues.push({ path: `${base}/path`, reason: `must be a normalised path under /dev (no "." or ".." components), got "${d.path}"` });
    return undefined;
  }
  const type = d.type === 'u' ? 'c' : d.type;
  return { path: d.path, type, major: d.major ?? 0, minor: d.minor ?? 0, fileMode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0 };
}

const JOIN_ORDER = ['cgroup', 'ipc', 'uts', 'network', 'pid', 'mount'];

const SYSCTL_NS: readonly [RegExp, string][] = [
  [/^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/, 'ipc'],
  [/^fs\.mqueue\./, 'ipc'],
  [/^net\./, 'network'],
  [/^kernel\.(hostname|domainname)$/, 'uts'],
];

/** Namespace types the config creates or joins. */
export function namespaceTypes(spec: Spec): Set<string> {
  return new Set((spec.linux?.namespaces ?? []).map((n) => n.type));
}

/** Builds the plan for `create`. Throws InvalidArgument listing every problem with its JSON path. */
export function buildCreatePlan(spec: Spec, ctx: CreatePlanContext): { plan: Plan; warnings: string[] } {
  const issues: FieldIssue[] = unsupportedIssues(spec);
  const warnings: string[] = [];
  const console = consolePlan(spec.process, '/process', ctx.consoleSocket, issues);
  if (!spec.process) issues.push({ path: '/process', reason: 'is required to create a container' });
  if (!spec.root?.path) issues.push({ path: '/root/path', reason: 'is required' });
  const nsList = spec.linux?.namespaces ?? [];
  const clone: string[] = [];
  const join: { type: string; path: string }[] = [];
  nsList.forEach((ns, i) => {
    if (!NS_PROC_NAME[ns.type]) return;
    if (ns.path) {
      if (!ns.path.startsWith('/')) issues.push({ path: `/linux/namespaces/${i}/path`, reason: 'must be an absolute path' });
      join.push({ type: ns.type, path: ns.path });
    } else {
      clone.push(ns.type);
    }
  });
  // Mount namespace last, so the other nsfs paths still resolve on the host when they are opened.
  join.sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  const types = namespaceTypes(spec);
  const newNs = new Set(clone);
  if (spec.hostname && !newNs.has('uts') && !types.has('uts')) issues.push({ path: '/hostname', reason: 'needs a private UTS namespace (add {"type": "uts"} to /linux/namespaces)' });
  if (spec.domainname && !types.has('uts')) issues.push({ path: '/domainname', reason: 'needs a private UTS namespace' });
  if (!types.has('mount')) issues.push({ path: '/linux/namespaces', reason: 'must include a mount namespace (podrun sets up the rootfs in its own mount namespace)' });
  const sysctl: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.linux?.sysctl ?? {})) {
    const need = SYSCTL_NS.find(([re]) => re.test(k));
    // podkit-init turns every "." into "/": a "/" of its own (or an empty component) would name another file.
    if (k.includes('/') || k.split('.').some((c) => c === '')) issues.push({ path: `/linux/sysctl/${k}`, reason: 'must be a dotted sysctl name (no "/" and no empty component)' });
    else if (!need) issues.push({ path: `/linux/sysctl/${k}`, reason: 'is not a namespaced sysctl; setting it would change the host' });
    else if (!types.has(need[1])) issues.push({ path: `/linux/sysctl/${k}`, reason: `needs a private ${need[1]} namespace` });
    else sysctl[k] = String(v);
  }
  const mounts: PlanMount[] = [];
  (spec.mounts ?? []).forEach((m, i) => {
    const pm = buildMount(m, i, ctx, issues);
    if (pm) mounts.push(pm);
  });
  const ownDev = mounts.some((m) => m.destination === '/dev');
  const devices: PlanDevice[] = [];
  const explicit = (spec.linux?.devices ?? []).map((d, i) => buildDevice(d, i, issues)).filter((d): d is PlanDevice => d !== undefined);
  if (ownDev) {
    for (const d of DEFAULT_DEVICES) {
      if (!explicit.some((e) => e.path === d.path)) devices.push({ ...d, fileMode: 0o666, uid: 0, gid: 0 });
    }
  }
  devices.push(...explicit);
  let propagation = 0;
  try {
    propagation = propagationFlags(spec.linux?.rootfsPropagation ?? '', '/linux/rootfsPropagation');
  } catch (err) {
    issues.push({ path: '/linux/rootfsPropagation', reason: (err as Error).message });
  }
  const process = spec.process ? buildProcess(spec.process, '/process', issues, warnings, ctx.preserveFds ?? 0, spec.linux?.seccomp) : undefined;
  if (issues.length > 0 || !process || !spec.root) throw invalidDocument('config.json', issues);
  const rootfs: PlanRootfs = {
    path: path.resolve(ctx.bundle, spec.root.path),
    readonly: spec.root?.readonly === true,
    noPivot: ctx.noPivot === true,
    propagation,
    mounts,
    devices,
    devSymlinks: ownDev,
    maskedPaths: [...(spec.linux?.maskedPaths ?? [])],
    readonlyPaths: [...(spec.linux?.readonlyPaths ?? [])],
  };
  const hooks = planHooks(spec.hooks);
  const plan: Plan = {
    mode: 'create',
    clone,
    join,
    cloneParent: true,
    setsid: true,
    execFifo: ctx.execFifo,
    rootfs,
    ...(spec.hostname ? { hostname: spec.hostname } : {}),
    ...(spec.domainname ? { domainname: spec.domainname } : {}),
    ...(Object.keys(sysctl).length ? { sysctl } : {}),
    ...(console ? { console } : {}),
    ...(hooks ? { hooks } : {}),
    process,
  };
  return { plan, warnings };
}

/**
 * Builds the plan for `exec`: join every namespace of the container's init (by /proc/<pid>/ns), then
 * set up the process. `nsTypes` are the OCI types the container has.
 */
export function buildExecPlan(
  proc: Process,
  initPid: number,
  nsTypes: readonly string[],
  base = '/process',
  consoleSocket?: string,
  preserveFds = 0,
  seccomp?: LinuxSeccomp,
): { plan: Plan; warnings: string[] } {
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  processUnsupported(proc, base, issues);
  const console = consolePlan(proc, base, consoleSocket, issues);
  const process = buildProcess(proc, base, issues, warnings, preserveFds, seccomp);
  if (issues.length > 0) throw invalidDocument('process', issues);
  const join = JOIN_ORDER.filter((t) => nsTypes.includes(t)).map((t) => ({ type: t, path: `/proc/${initPid}/ns/${NS_PROC_NAME[t]}` }));
  // A terminal becomes the controlling terminal of a new session.
  return { plan: { mode: 'exec', clone: [], join, cloneParent: true, setsid: console !== undefined, ...(console ? { console } : {}), process }, warnings };
}

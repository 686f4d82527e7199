/**
 * Turns a validated OCI config into a plan for podkit-init. Everything is decided here, in
 * TypeScript: option strings become flags, names become numbers, relative paths are made absolute
 * against the bundle, defaults are filled in, and fields this runtime does not support yet are
 * rejected with their JSON path (never ignored silently).
 */
import * as path from 'node:path';
import { invalidDocument, type FieldIssue } from '@podkit/errdefs';
import type { LinuxDevice, LinuxSeccomp, Mount, Process, Spec } from '@podkit/oci-spec';
import { resourceWarnings } from '../cgroups/backend';
import { intelRdtIssues, type ResctrlHost } from '../intelrdt/resctrl';
import { MS, parseMountOptions, propagationFlags } from '../sys/mount';
import { netDevicesPlan } from './netdevices';
import { cpuAffinityPlan, ioPriorityPlan, lsmIssues, schedulerPlan, sysctlPlan } from './process-attrs';
import { mountExtensions, mountIdmap, personalityPlan, timeOffsetsPlan, usernsPlan } from './namespaces';
import { CAPABILITIES, DEFAULT_DEVICES, NS_PROC_NAME, RLIMITS, SUPPORTED_NAMESPACES } from './tables';
import type { Plan, PlanCapabilities, PlanDevice, PlanHook, PlanMount, PlanProcess, PlanRootfs, PlanUserns } from './types';

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
  /** Intel RDT: where resctrl is (default: this host's mount; tests: a fake tree). */
  resctrl?: ResctrlHost;
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
export function unsupportedIssues(spec: Spec, resctrl?: ResctrlHost): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const later = (p: string, what: string) => issues.push({ path: p, reason: `${what} is not supported by podrun yet` });
  if (spec.process) processUnsupported(spec.process, '/process', issues);
  if (spec.hooks) hookIssues(spec.hooks, issues);
  const l = spec.linux;
  if (l) {
    l.namespaces?.forEach((ns, i) => {
      if (!(SUPPORTED_NAMESPACES as readonly string[]).includes(ns.type)) later(`/linux/namespaces/${i}/type`, `a ${ns.type} namespace`);
    });
    if (l.seccomp) seccompIssues(l.seccomp, '/linux/seccomp', issues);
    // Intel RDT: the reason this host cannot apply it (e.g. resctrl is not mounted, intelrdt/resctrl.ts);
    // else create puts the container in its CLOS group (container/create.ts).
    if (l.intelRdt) issues.push(...intelRdtIssues(l.intelRdt, '', resctrl?.root, resctrl?.fs));
    if (l.mountLabel) lsmIssues(undefined, l.mountLabel, '/process', issues);
    // linux.netDevices: moved by the runtime at the create sync point (container/netdevices.ts).
    if (l.netDevices) netDevicesPlan(spec, issues);
    // runtime-spec 1.3 fields podrun does not apply yet (a 1.3 config is accepted: any 1.x is).
    if (l.memoryPolicy) later('/linux/memoryPolicy', 'a NUMA memory policy (runtime-spec 1.3, set_mempolicy)');
    if (l.intelRdt?.schemata?.length) later('/linux/intelRdt/schemata', 'Intel RDT schemata lines (runtime-spec 1.3; l3CacheSchema and memBwSchema are)');
    if (l.intelRdt?.enableMonitoring) later('/linux/intelRdt/enableMonitoring', 'an Intel RDT monitoring group (runtime-spec 1.3)');
    // /linux/resources: every field is applied by the cgroup backend, or refused there with its path
    // and the reason this host cannot apply it (cgroups/backend.ts resourcesUnavailable).
  }
  return issues;
}

/** Longest hook timeout (seconds): the init waits with poll(2), whose timeout is an int of ms. */
export const MAX_HOOK_TIMEOUT = 2_000_000;

/** Architectures the libseccomp podkit-init links (2.5) does not know. */
const SECCOMP_UNKNOWN_ARCHES = ['SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB'];

/** Actions that take an errno (errnoRet / defaultErrnoRet). */
const SECCOMP_ERRNO_ACTIONS = ['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE'];

/**
 * Syscalls podkit-init makes between loading a NOTIFY filter and the agent having its listener: the
 * listener is handed back with sendmsg, which would wait forever on the very listener it carries (runc
 * refuses NOTIFY on write for its own pipe, and as the default action, for the same reason).
 */
const SECCOMP_NOTIFY_FORBIDDEN = ['sendmsg'];

/**
 * What of a (schema-valid) seccomp profile podkit-init cannot load: what libseccomp 2.5 lacks, an
 * errno on an action without one (the runtime-spec says fail), and user notification without a
 * usable listener. Unknown syscall names are not an issue: they are skipped when the filter is
 * built, as runc does.
 */
export function seccompIssues(s: LinuxSeccomp, base: string, issues: FieldIssue[]): void {
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') {
    issues.push({ path: `${base}/defaultAction`, reason: 'SCMP_ACT_NOTIFY cannot be the default action: podkit-init hands the listener to the runtime with sendmsg, which would then wait on that same listener (runc refuses it too)' });
  }
  if (s.defaultErrnoRet !== undefined && !SECCOMP_ERRNO_ACTIONS.includes(s.defaultAction)) {
    issues.push({ path: `${base}/defaultErrnoRet`, reason: `${s.defaultAction} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)` });
  }
  s.architectures?.forEach((a, i) => {
    if (SECCOMP_UNKNOWN_ARCHES.includes(a)) issues.push({ path: `${base}/architectures/${i}`, reason: `${a} is not known to the libseccomp podkit-init is built with (2.5)` });
  });
  let notify: number | undefined;
  s.syscalls?.forEach((r, i) => {
    if (r.errnoRet !== undefined && !SECCOMP_ERRNO_ACTIONS.includes(r.action)) {
      issues.push({ path: `${base}/syscalls/${i}/errnoRet`, reason: `${r.action} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)` });
    }
    if (r.action !== 'SCMP_ACT_NOTIFY') return;
    notify ??= i;
    r.names.forEach((n, j) => {
      if (SECCOMP_NOTIFY_FORBIDDEN.includes(n)) {
        issues.push({ path: `${base}/syscalls/${i}/names/${j}`, reason: `SCMP_ACT_NOTIFY cannot be used for ${n}: podkit-init sends the listener to the runtime with it, before any agent has the listener` });
      }
    });
  });
  if (notify !== undefined) {
    if (!s.listenerPath) issues.push({ path: `${base}/listenerPath`, reason: `is required when SCMP_ACT_NOTIFY is used (${base}/syscalls/${notify}/action): the listener is sent there` });
    else if (!s.listenerPath.startsWith('/')) issues.push({ path: `${base}/listenerPath`, reason: 'must be an absolute path (of an AF_UNIX stream socket)' });
    else if (Buffer.byteLength(s.listenerPath) > 107) issues.push({ path: `${base}/listenerPath`, reason: 'is longer than 107 bytes, the most a unix socket address holds (sun_path)' });
  }
  // The runtime-spec: listenerMetadata MUST NOT be set without listenerPath. Without NOTIFY, a
  // listenerPath is ignored, as the spec says.
  if (s.listenerMetadata !== undefined && !s.listenerPath) issues.push({ path: `${base}/listenerMetadata`, reason: 'must not be set without listenerPath' });
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
  // scheduler, ioPriority and execCPUAffinity are validated (and applied) by buildProcess.
  lsmIssues(p, undefined, base, issues);
  if (p.commandLine !== undefined) issues.push({ path: `${base}/commandLine`, reason: 'commandLine (Windows) is not supported by podrun' });
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
  const scheduler = p.scheduler ? schedulerPlan(p.scheduler, base, issues) : undefined;
  const ioPriority = p.ioPriority ? ioPriorityPlan(p.ioPriority, base, issues) : undefined;
  const cpuAffinity = p.execCPUAffinity ? cpuAffinityPlan(p.execCPUAffinity, base, issues) : undefined;
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
    ...(scheduler ? { scheduler } : {}),
    ...(ioPriority ? { ioPriority } : {}),
    ...(cpuAffinity ? { cpuAffinity } : {}),
    preserveFds,
  };
}

function isBind(m: Mount, flags: number): boolean {
  return m.type === 'bind' || (flags & MS.BIND) !== 0;
}

function buildMount(m: Mount, i: number, ctx: CreatePlanContext, userns: PlanUserns | undefined, issues: FieldIssue[]): PlanMount | undefined {
  const base = `/mounts/${i}`;
  if (!m.destination.startsWith('/')) {
    issues.push({ path: `${base}/destination`, reason: 'must be an absolute path' });
    return undefined;
  }
  // Recursive attributes and idmap/ridmap are podrun's own; the rest are flags, propagation and data.
  const ext = mountExtensions(m.options ?? [], `${base}/options`, issues);
  const recAttr = ext.recAttr ? { recAttr: ext.recAttr } : {};
  let parsed;
  try {
    parsed = parseMountOptions(ext.rest, `${base}/options`);
  } catch (err) {
    issues.push({ path: (err as { details?: { field?: string } }).details?.field ?? `${base}/options`, reason: (err as Error).message });
    return undefined;
  }
  const destination = path.posix.normalize(m.destination);
  const bind = isBind(m, parsed.flags);
  const idmap = mountIdmap(m, ext.idmapOption, bind && m.type !== 'cgroup', base, userns, issues);
  if (m.type === 'cgroup' && ctx.cgroupV2Dir) {
    return { destination, type: 'bind', source: ctx.cgroupV2Dir, flags: parsed.flags | MS.BIND | MS.REC, data: '', ...recAttr };
  }
  if (m.type === 'cgroup') {
    return { destination, type: 'cgroup', source: '', flags: parsed.flags, data: '', kind: 'cgroup-v1', cgroups: ctx.cgroupMounts, ...recAttr };
  }
  if (bind) {
    if (!m.source) {
      issues.push({ path: `${base}/source`, reason: 'is required for a bind mount' });
      return undefined;
    }
    if (parsed.data) {
      // The kernel ignores data on a bind: refuse what would otherwise be dropped without a word.
      (m.options ?? []).forEach((o, j) => {
        if (ext.rest.includes(o) && parseMountOptions([o]).data) issues.push({ path: `${base}/options/${j}`, reason: `"${o}" is not a mount flag, propagation or recursive attribute, and a bind mount takes no filesystem options` });
      });
      return undefined;
    }
    const source = path.resolve(ctx.bundle, m.source);
    return {
      destination,
      type: 'bind',
      source,
      flags: parsed.flags | MS.BIND,
      data: '',
      ...(parsed.propagation.length ? { propagation: parsed.propagation } : {}),
      ...recAttr,
      // In a user namespace the container's root may not reach the source: podkit-init clones it first.
      ...(idmap || userns ? { detached: true } : {}),
      ...(idmap ? { idmap } : {}),
    };
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
    ...recAttr,
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

/**
 * The order namespaces are joined in (podkit-init joins the user namespace after the others it can
 * join with the host's privileges, then retries the rest, as nsenter does).
 */
const JOIN_ORDER = ['user', 'cgroup', 'ipc', 'uts', 'network', 'pid', 'time', 'mount'];

/** Namespace types the config creates or joins. */
export function namespaceTypes(spec: Spec): Set<string> {
  return new Set((spec.linux?.namespaces ?? []).map((n) => n.type));
}

/** Builds the plan for `create`. Throws InvalidArgument listing every problem with its JSON path. */
export function buildCreatePlan(spec: Spec, ctx: CreatePlanContext): { plan: Plan; warnings: string[] } {
  const issues: FieldIssue[] = unsupportedIssues(spec, ctx.resctrl);
  const warnings: string[] = resourceWarnings(spec.linux?.resources);
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
  const sysctl = sysctlPlan(spec, issues);
  const userns = usernsPlan(spec, issues);
  const timeOffsets = timeOffsetsPlan(spec, issues);
  const personality = personalityPlan(spec, issues);
  const mounts: PlanMount[] = [];
  (spec.mounts ?? []).forEach((m, i) => {
    const pm = buildMount(m, i, ctx, userns, issues);
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
    ...(userns ? { userns } : {}),
    ...(timeOffsets && Object.keys(timeOffsets).length ? { timeOffsets } : {}),
    ...(personality !== undefined ? { personality } : {}),
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
  setgroups: PlanUserns['setgroups'] = 'allow',
  personality?: number,
): { plan: Plan; warnings: string[] } {
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  processUnsupported(proc, base, issues);
  const console = consolePlan(proc, base, consoleSocket, issues);
  const process = buildProcess(proc, base, issues, warnings, preserveFds, seccomp);
  if (issues.length > 0) throw invalidDocument('process', issues);
  const join = JOIN_ORDER.filter((t) => nsTypes.includes(t)).map((t) => ({ type: t, path: `/proc/${initPid}/ns/${NS_PROC_NAME[t]}` }));
  // In the container's user namespace the process becomes its root first (`setgroups`: the namespace's
  // /proc/<pid>/setgroups).
  const userns: PlanUserns | undefined = nsTypes.includes('user') ? { setgroups } : undefined;
  // A terminal becomes the controlling terminal of a new session. The container's personality applies
  // to exec processes too, as in runc (they are not forked from the container's init).
  return {
    plan: { mode: 'exec', clone: [], join, cloneParent: true, setsid: console !== undefined, ...(userns ? { userns } : {}), ...(personality !== undefined ? { personality } : {}), ...(console ? { console } : {}), process },
    warnings,
  };
}

/**
 * Validation and translation of the process attributes podkit-init applies with a syscall of their
 * own (`scheduler`, `ioPriority`, `execCPUAffinity`), of `linux.sysctl` against the namespaces the
 * container owns (as runc's validator), and the LSM fields this host cannot apply. Every problem is
 * pushed as a FieldIssue with its JSON path; nothing here throws.
 */
import * as fs from 'node:fs';
import type { FieldIssue } from '@podkit/errdefs';
import type { IOPriority, Process, Scheduler, Spec } from '@podkit/oci-spec';
import type { PlanProcess } from './types';

/** SCHED_* policy numbers (include/uapi/linux/sched.h). SCHED_ISO (4) is reserved, never implemented. */
export const SCHED_POLICIES: Readonly<Record<string, number>> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};

/** SCHED_FLAG_* bits of sched_attr.sched_flags. */
export const SCHED_FLAGS: Readonly<Record<string, number>> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/** IOPRIO_CLASS_* numbers (include/uapi/linux/ioprio.h). */
export const IOPRIO_CLASSES: Readonly<Record<string, number>> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** The kernel's default bounds of a SCHED_DEADLINE period (kernel.sched_deadline_period_{min,max}_us). */
export const DL_PERIOD_MIN_NS = 100_000;
export const DL_PERIOD_MAX_NS = 4_194_304_000;
/** The smallest SCHED_DEADLINE runtime the kernel accepts (1 << DL_SCALE ns). */
export const DL_RUNTIME_MIN_NS = 1024;
/** CPU_SETSIZE: the largest CPU number sched_setaffinity takes here is one less. */
export const MAX_CPUS = 1024;

/** `scheduler` as sched_setattr wants it (runc's validator, plus the kernel's own checks, up front). */
export function schedulerPlan(s: Scheduler, base: string, issues: FieldIssue[]): NonNullable<PlanProcess['scheduler']> | undefined {
  const at = `${base}/scheduler`;
  const n = issues.length;
  const policy = SCHED_POLICIES[s.policy];
  if (policy === undefined) issues.push({ path: `${at}/policy`, reason: `unknown policy "${s.policy}"` });
  else if (s.policy === 'SCHED_ISO') issues.push({ path: `${at}/policy`, reason: 'SCHED_ISO is reserved but not implemented by Linux: sched_setattr rejects it with EINVAL' });
  const nice = s.nice ?? 0;
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) issues.push({ path: `${at}/nice`, reason: `must be an integer from -20 to 19, got ${nice}` });
  const rt = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
  const priority = s.priority ?? 0;
  if (rt && (!Number.isInteger(priority) || priority < 1 || priority > 99)) issues.push({ path: `${at}/priority`, reason: `must be from 1 to 99 for ${s.policy}, got ${priority}` });
  if (!rt && priority !== 0) issues.push({ path: `${at}/priority`, reason: `can only be set for SCHED_FIFO or SCHED_RR (policy is ${s.policy})` });
  let flags = 0;
  (s.flags ?? []).forEach((f, i) => {
    const bit = SCHED_FLAGS[f];
    if (bit === undefined) issues.push({ path: `${at}/flags/${i}`, reason: `unknown flag "${f}"` });
    else flags |= bit;
  });
  const runtime = s.runtime ?? 0;
  const deadline = s.deadline ?? 0;
  const period = s.period ?? 0;
  if (s.policy !== 'SCHED_DEADLINE') {
    for (const [k, v] of [['runtime', runtime], ['deadline', deadline], ['period', period]] as const) {
      if (v !== 0) issues.push({ path: `${at}/${k}`, reason: `can only be set for SCHED_DEADLINE (policy is ${s.policy})` });
    }
  } else {
    // The kernel's __checkparam_dl, so a bad triple is named here rather than as EINVAL from the init.
    if (runtime < DL_RUNTIME_MIN_NS) issues.push({ path: `${at}/runtime`, reason: `must be at least ${DL_RUNTIME_MIN_NS} ns for SCHED_DEADLINE, got ${runtime}` });
    if (deadline === 0) issues.push({ path: `${at}/deadline`, reason: 'is required for SCHED_DEADLINE' });
    else if (deadline < runtime) issues.push({ path: `${at}/deadline`, reason: `must not be less than runtime (${runtime} ns), got ${deadline}` });
    if (period !== 0 && period < deadline) issues.push({ path: `${at}/period`, reason: `must be 0 (= deadline) or not less than deadline (${deadline} ns), got ${period}` });
    const eff = period || deadline;
    if (deadline !== 0 && (eff < DL_PERIOD_MIN_NS || eff > DL_PERIOD_MAX_NS)) {
      issues.push({ path: `${at}/${period ? 'period' : 'deadline'}`, reason: `the period must be from ${DL_PERIOD_MIN_NS} to ${DL_PERIOD_MAX_NS} ns (the kernel's default bounds), got ${eff}` });
    }
  }
  if (issues.length > n || policy === undefined) return undefined;
  return { policy, nice, priority, flags, runtime: String(runtime), deadline: String(deadline), period: String(period) };
}

/** `ioPriority` as ioprio_set wants it. The spec calls `priority` REQUIRED; an absent one is 0, as in runc. */
export function ioPriorityPlan(io: IOPriority, base: string, issues: FieldIssue[]): NonNullable<PlanProcess['ioPriority']> | undefined {
  const at = `${base}/ioPriority`;
  const cls = IOPRIO_CLASSES[io.class];
  const priority = io.priority ?? 0;
  let ok = true;
  if (cls === undefined) {
    issues.push({ path: `${at}/class`, reason: `unknown class "${io.class}" (IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE)` });
    ok = false;
  }
  if (!Number.isInteger(priority) || priority < 0 || priority > 7) {
    issues.push({ path: `${at}/priority`, reason: `must be an integer from 0 (highest) to 7 (lowest), got ${priority}` });
    ok = false;
  }
  return ok && cls !== undefined ? { class: cls, priority } : undefined;
}

/**
 * A CPU list ("0-3,7") as CPU numbers, sorted and unique; an empty string is "not set" (the spec's
 * default). Problems go to `issues` under `field`.
 */
export function parseCpuList(list: string, field: string, issues: FieldIssue[]): number[] | undefined {
  if (list === '') return undefined;
  const cpus = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) {
      issues.push({ path: field, reason: `"${list}" is not a CPU list like "0-3,7" (bad element "${part}")` });
      return undefined;
    }
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo) {
      issues.push({ path: field, reason: `range "${part}" ends before it starts` });
      return undefined;
    }
    if (hi >= MAX_CPUS) {
      issues.push({ path: field, reason: `CPU ${hi} is out of range (0 to ${MAX_CPUS - 1})` });
      return undefined;
    }
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** `execCPUAffinity` as CPU numbers; undefined when neither list is set. */
export function cpuAffinityPlan(a: NonNullable<Process['execCPUAffinity']>, base: string, issues: FieldIssue[]): PlanProcess['cpuAffinity'] {
  const initial = a.initial !== undefined ? parseCpuList(a.initial, `${base}/execCPUAffinity/initial`, issues) : undefined;
  const final = a.final !== undefined ? parseCpuList(a.final, `${base}/execCPUAffinity/final`, issues) : undefined;
  if (!initial && !final) return undefined;
  return { ...(initial ? { initial } : {}), ...(final ? { final } : {}) };
}

// ---- sysctl ---------------------------------------------------------------------------------------

/** The IPC sysctls of kernel.* (ipc/ipc_sysctl.c); fs.mqueue.* are IPC too. */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** The namespace a sysctl belongs to, or undefined when it is not namespaced (it would change the host). */
export function sysctlNamespace(key: string): 'ipc' | 'network' | 'uts' | undefined {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}

/** True when the nsfs file at `path` is the network namespace this process runs in. */
export function isOwnNetns(path: string): boolean {
  try {
    const a = fs.statSync(path);
    const b = fs.statSync('/proc/self/ns/net');
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false; // unreadable: opening it fails later, with its own error
  }
}

/**
 * `linux.sysctl` checked as runc's validator does: a sysctl is allowed only when the container owns
 * the namespace it belongs to (IPC ones need an ipc namespace, net.* a network namespace that is not
 * the runtime's own, kernel.hostname/domainname a uts namespace and no conflicting /hostname or
 * /domainname); anything else would change the host.
 */
export function sysctlPlan(spec: Spec, issues: FieldIssue[], ownNetns: (path: string) => boolean = isOwnNetns): Record<string, string> {
  const out: Record<string, string> = {};
  const nsList = spec.linux?.namespaces ?? [];
  for (const [k, v] of Object.entries(spec.linux?.sysctl ?? {})) {
    const at = `/linux/sysctl/${k}`;
    // podkit-init turns every "." into "/": a "/" of its own (or an empty component) would name another file.
    if (k.includes('/') || k.split('.').some((c) => c === '')) {
      issues.push({ path: at, reason: 'must be a dotted sysctl name (no "/" and no empty component)' });
      continue;
    }
    const need = sysctlNamespace(k);
    if (!need) {
      issues.push({ path: at, reason: 'is not namespaced (not in a separate kernel namespace); setting it would change the host' });
      continue;
    }
    const ns = nsList.find((n) => n.type === need);
    if (!ns) {
      issues.push({ path: at, reason: `needs a private ${need} namespace (add {"type": "${need}"} to /linux/namespaces)` });
      continue;
    }
    if (need === 'network' && ns.path && ownNetns(ns.path)) {
      issues.push({ path: at, reason: `needs a network namespace of the container's own; ${ns.path} is the runtime's (the host's) network namespace` });
      continue;
    }
    if (k === 'kernel.hostname' && spec.hostname) {
      issues.push({ path: at, reason: 'conflicts with /hostname; set one of them' });
      continue;
    }
    if (k === 'kernel.domainname' && spec.domainname) {
      issues.push({ path: at, reason: 'conflicts with /domainname; set one of them' });
      continue;
    }
    out[k] = String(v);
  }
  return out;
}

// ---- LSMs -----------------------------------------------------------------------------------------

export interface HostLsms {
  apparmor: boolean;
  selinux: boolean;
  /** What was looked at, for error messages. */
  evidence: { apparmor: string; selinux: string };
}

function readTrim(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Which LSMs this host has enabled, from /sys/kernel/security/lsm, /sys/module/apparmor and /sys/fs/selinux. */
export function hostLsms(root = '/'): HostLsms {
  const p = (x: string) => `${root.replace(/\/$/, '')}${x}`;
  const lsm = readTrim(p('/sys/kernel/security/lsm'));
  const lsmNote = lsm !== undefined ? `/sys/kernel/security/lsm lists "${lsm}"` : '/sys/kernel/security/lsm cannot be read (securityfs not mounted)';
  const aa = readTrim(p('/sys/module/apparmor/parameters/enabled'));
  const apparmor = aa === 'Y' || (lsm?.split(',').includes('apparmor') ?? false);
  const aaNote = aa !== undefined ? `/sys/module/apparmor/parameters/enabled is "${aa}"` : '/sys/module/apparmor does not exist';
  const se = fs.existsSync(p('/sys/fs/selinux/enforce'));
  const selinux = se || (lsm?.split(',').includes('selinux') ?? false);
  const seNote = se ? '/sys/fs/selinux is mounted' : '/sys/fs/selinux/enforce does not exist';
  return { apparmor, selinux, evidence: { apparmor: `${aaNote}; ${lsmNote}`, selinux: `${seNote}; ${lsmNote}` } };
}

/**
 * apparmorProfile, selinuxLabel and mountLabel: as runc, an error when the host lacks the LSM (with
 * what shows it); where the LSM is enabled, podrun cannot apply it yet.
 */
export function lsmIssues(p: Process | undefined, mountLabel: string | undefined, base: string, issues: FieldIssue[], lsms: () => HostLsms = hostLsms): void {
  if (!p?.apparmorProfile && !p?.selinuxLabel && !mountLabel) return;
  const h = lsms();
  if (p?.apparmorProfile) {
    issues.push({
      path: `${base}/apparmorProfile`,
      reason: h.apparmor ? 'applying an AppArmor profile is not supported by podrun yet' : `AppArmor is not enabled on this host (${h.evidence.apparmor}), so the profile cannot be applied`,
    });
  }
  for (const [field, label] of [[`${base}/selinuxLabel`, p?.selinuxLabel], ['/linux/mountLabel', mountLabel]] as const) {
    if (!label) continue;
    issues.push({
      path: field,
      reason: h.selinux ? 'applying SELinux labels is not supported by podrun yet' : `SELinux is not enabled on this host (${h.evidence.selinux}), so the label cannot be applied`,
    });
  }
}

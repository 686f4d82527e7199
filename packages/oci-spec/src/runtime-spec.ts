/**
 * Validators and defaults for the runtime-spec documents: config.json, process.json, state.json, features.
 *
 * Also the package's `@podkit/oci-spec/runtime-spec` entry point: the runtime half alone (its types,
 * validators and defaults), loading no image-spec, digest, reference or node:crypto module. Its validators
 * load only their own schema (or generated validator) on first use.
 */
import type { FieldIssue } from '@podkit/errdefs';
import type { Features, LinuxNamespaceType, Process, Spec, State } from './schema/runtime';
import { check, validate, type CheckResult } from './validate';

export type { FieldIssue } from '@podkit/errdefs';
export type { CheckResult } from './validate';
export type {
  Spec,
  Process,
  User,
  LinuxCapabilities,
  POSIXRlimit,
  Box,
  Scheduler,
  IOPriority,
  CPUAffinity,
  Root,
  Mount,
  Hooks,
  Hook,
  Linux,
  LinuxNamespace,
  LinuxNamespaceType,
  LinuxIDMapping,
  LinuxDevice,
  LinuxDeviceCgroup,
  LinuxResources,
  LinuxMemory,
  LinuxCPU,
  LinuxPids,
  LinuxBlockIO,
  LinuxWeightDevice,
  LinuxThrottleDevice,
  LinuxHugepageLimit,
  LinuxNetwork,
  LinuxRdma,
  LinuxSeccomp,
  LinuxSyscall,
  LinuxSeccompArg,
  LinuxSeccompAction,
  LinuxSeccompOperator,
  LinuxSeccompArch,
  LinuxIntelRdt,
  LinuxPersonality,
  LinuxTimeOffset,
  LinuxNetDevice,
  LinuxMemoryPolicy,
  ContainerStatus,
  State,
  Features,
  LinuxFeatures,
} from './schema/runtime';

/** The runtime-spec version this package implements (and writes). */
export const OCI_VERSION = '1.2.0';

/** The array at `x`, or none: the cross-field checks also run over documents that failed the schema. */
const list = <T>(x: readonly T[] | undefined): readonly T[] => (Array.isArray(x) ? x : []);
const isObject = (x: unknown): x is object => typeof x === 'object' && x !== null;

function processIssues(p: Process, base: string): FieldIssue[] {
  if (!isObject(p)) return [];
  // POSIX platforms extend IEEE exec: at least one argument (the program) is required.
  if (p.commandLine === undefined && (p.args === undefined || p.args.length === 0)) {
    return [{ path: `${base}/args`, reason: 'must have at least one entry (the program to run)' }];
  }
  return [];
}

function specIssues(spec: Spec): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (!isObject(spec)) return issues;
  if (spec.process !== undefined) issues.push(...processIssues(spec.process, '/process'));
  list(spec.mounts).forEach((m, i) => {
    if (!isObject(m)) return;
    if (m.uidMappings !== undefined && m.gidMappings === undefined) {
      issues.push({ path: `/mounts/${i}/gidMappings`, reason: 'is required when uidMappings is set' });
    }
    if (m.gidMappings !== undefined && m.uidMappings === undefined) {
      issues.push({ path: `/mounts/${i}/uidMappings`, reason: 'is required when gidMappings is set' });
    }
  });
  const linux = spec.linux;
  if (isObject(linux)) {
    const seen = new Map<LinuxNamespaceType, number>();
    list(linux.namespaces).forEach((ns, i) => {
      if (!isObject(ns)) return;
      const first = seen.get(ns.type);
      if (first !== undefined) {
        issues.push({ path: `/linux/namespaces/${i}/type`, reason: `duplicate namespace type "${ns.type}" (first at index ${first})` });
      } else {
        seen.set(ns.type, i);
      }
    });
    list(linux.devices).forEach((d, i) => {
      if (!isObject(d) || d.type === 'p') return;
      for (const k of ['major', 'minor'] as const) {
        if (d[k] === undefined) issues.push({ path: `/linux/devices/${i}/${k}`, reason: `is required for device type "${d.type}"` });
      }
    });
    if (linux.timeOffsets !== undefined && !seen.has('time')) {
      issues.push({ path: '/linux/timeOffsets', reason: 'requires a time namespace in /linux/namespaces' });
    }
    if ((linux.uidMappings !== undefined || linux.gidMappings !== undefined) && !seen.has('user')) {
      issues.push({
        path: linux.uidMappings !== undefined ? '/linux/uidMappings' : '/linux/gidMappings',
        reason: 'requires a user namespace in /linux/namespaces',
      });
    }
  }
  return issues;
}

/** Checks a `config.json` document; returns every problem with its JSON pointer path. */
export function checkSpec(doc: unknown): CheckResult<Spec> {
  return check<Spec>('spec', doc, specIssues);
}

/** Validates a `config.json` document; throws InvalidArgumentError listing every problem. */
export function validateSpec(doc: unknown): Spec {
  return validate<Spec>('spec', 'config.json', doc, specIssues);
}

/** Checks a `process.json` (the process of `runc exec --process`). */
export function checkProcess(doc: unknown): CheckResult<Process> {
  return check<Process>('process', doc, (p) => processIssues(p, ''));
}

export function validateProcess(doc: unknown): Process {
  return validate<Process>('process', 'process.json', doc, (p) => processIssues(p, ''));
}

function stateIssues(s: State): FieldIssue[] {
  if (!isObject(s)) return [];
  // A created or running container has a process; creating may not have one yet; stopped has none.
  if ((s.status === 'created' || s.status === 'running') && (s.pid === undefined || s.pid === 0)) {
    return [{ path: '/pid', reason: `is required when status is "${s.status}"` }];
  }
  return [];
}

/** Checks a `state.json` document (the output of `runc state`). */
export function checkState(doc: unknown): CheckResult<State> {
  return check<State>('state', doc, stateIssues);
}

export function validateState(doc: unknown): State {
  return validate<State>('state', 'state.json', doc, stateIssues);
}

/** Checks a `features` document (the output of `runc features`). */
export function checkFeatures(doc: unknown): CheckResult<Features> {
  return check<Features>('features', doc);
}

export function validateFeatures(doc: unknown): Features {
  return validate<Features>('features', 'features', doc);
}

export interface DefaultSpecOptions {
  /** Like `runc spec --rootless`: a user namespace mapping `uid`/`gid` to root, no network namespace, no cgroup limits. */
  rootless?: boolean;
  /** Host uid/gid mapped to root in rootless mode (default: this process's). */
  uid?: number;
  gid?: number;
  /** The command (default `["sh"]`). */
  args?: string[];
  /** Allocate a terminal (default true, as `runc spec`). */
  terminal?: boolean;
  /** root.path (default `rootfs`). */
  rootPath?: string;
}

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** The default configuration, as `runc spec` prints it, with `ociVersion` 1.2.0. Returns a fresh object. */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const rootless = opts.rootless === true;
  const caps = () => [...DEFAULT_CAPS];
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: opts.terminal ?? true,
      user: { uid: 0, gid: 0 },
      args: opts.args ? [...opts.args] : ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps(), effective: caps(), permitted: caps(), ambient: caps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: opts.rootPath ?? 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      rootless
        ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
        : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      ...(rootless
        ? {
            uidMappings: [{ containerID: 0, hostID: opts.uid ?? process.getuid?.() ?? 0, size: 1 }],
            gidMappings: [{ containerID: 0, hostID: opts.gid ?? process.getgid?.() ?? 0, size: 1 }],
          }
        : { resources: { devices: [{ allow: false, access: 'rwm' }] } }),
      namespaces: [
        { type: 'pid' },
        ...(rootless ? [] : [{ type: 'network' as const }]),
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        ...(rootless ? [{ type: 'user' as const }] : []),
      ],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  return spec;
}

/**
 * linux.netDevices (runtime-spec 1.2): host network devices moved, by name, into the container's
 * network namespace (optionally renamed; a name ending in "%d" is a template the kernel completes).
 * Checked here; moved by the runtime at the create sync point (container/netdevices.ts).
 */
import type { FieldIssue } from '@podkit/errdefs';
import type { Spec } from '@podkit/oci-spec';
import { isOwnNetns } from './process-attrs';

export interface NetDeviceMove {
  /** The device's name in the runtime's network namespace. */
  host: string;
  /** Its name in the container's (the host name when the config gives none). */
  name: string;
}

/** IFNAMSIZ - 1. */
const MAX_IFNAME = 15;

/** Why `name` is not a valid interface name (the kernel's dev_valid_name), or undefined. */
export function ifnameProblem(name: string, template: boolean): string | undefined {
  if (name === '' || name === '.' || name === '..') return `"${name}" is not a valid interface name`;
  if (Buffer.byteLength(name) > MAX_IFNAME) return `"${name}" is longer than ${MAX_IFNAME} bytes`;
  if (/[/:\s]/.test(name)) return `"${name}" contains "/", ":" or white space`;
  const pct = name.split('%').length - 1;
  if (pct > 0 && !(template && pct === 1 && name.endsWith('%d'))) {
    return template ? `"${name}" may hold "%" only as one trailing "%d" (a template)` : `"${name}" contains "%"`;
  }
  return undefined;
}

/**
 * The moves `linux.netDevices` asks for, checked: the container needs a network namespace of its own
 * (a new one, or one joined by path that is not the runtime's), valid names, and no two devices
 * aiming at the same name.
 */
export function netDevicesPlan(spec: Spec, issues: FieldIssue[], ownNetns: (path: string) => boolean = isOwnNetns): NetDeviceMove[] {
  const devices = spec.linux?.netDevices;
  if (!devices) return [];
  const out: NetDeviceMove[] = [];
  const net = spec.linux?.namespaces?.find((n) => n.type === 'network');
  if (!net) {
    issues.push({ path: '/linux/netDevices', reason: 'needs a network namespace of the container\'s own (add {"type": "network"} to /linux/namespaces)' });
    return [];
  }
  if (net.path && ownNetns(net.path)) {
    issues.push({ path: '/linux/netDevices', reason: `needs a network namespace of the container's own; ${net.path} is the runtime's` });
    return [];
  }
  const targets = new Map<string, string>();
  for (const [host, d] of Object.entries(devices)) {
    const at = `/linux/netDevices/${host}`;
    const hostProblem = ifnameProblem(host, false);
    if (hostProblem) {
      issues.push({ path: at, reason: hostProblem });
      continue;
    }
    const name = d.name ?? host;
    const nameProblem = d.name !== undefined ? ifnameProblem(name, true) : undefined;
    if (nameProblem) {
      issues.push({ path: `${at}/name`, reason: nameProblem });
      continue;
    }
    const other = targets.get(name);
    if (other !== undefined && !name.endsWith('%d')) {
      issues.push({ path: d.name !== undefined ? `${at}/name` : at, reason: `${other} is also moved in as "${name}"` });
      continue;
    }
    targets.set(name, host);
    out.push({ host, name });
  }
  return out;
}

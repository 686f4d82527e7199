/**
 * Cgroups v1 (this host is hybrid: one hierarchy per controller, plus name=systemd). A relative
 * `cgroupsPath` lands beneath the caller's own cgroup in each hierarchy, as runc does, which also
 * keeps tests beneath the test process's cgroup. Limits are written only into the container's own
 * (newly created) cgroups, never into the caller's or above.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { codeForErrno, DeadlineExceededError, errorFromCode, FailedPreconditionError, invalidField, toPodkitError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { DEFAULT_ALLOWED_DEVICES, deviceRules, v1RuleLines } from './devicefilter';
import { BLKIO_KEYS, type Blkio, type BlkioKey, hostHugePageSizes, memoryEntry, omitEmpty, parseBlkioV1, parseCpuList, parseUsageAll, sortedKeys } from './runc-stats';

export interface Hierarchy {
  /** Folder name under the cgroup root (`memory`, `cpu,cpuacct`, `systemd`). */
  name: string;
  /** Controllers (or `name=systemd`) of this hierarchy. */
  controllers: string[];
  mountpoint: string;
  /** This process's cgroup in the hierarchy (from /proc/self/cgroup). */
  own: string;
}

/** The v1 hierarchies this process belongs to, with their mount points. */
export function hierarchies(): Hierarchy[] {
  const own = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m?.[2] && m[3] !== undefined) own.set(m[2], m[3]);
  }
  const out: Hierarchy[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' || !superOpts) continue;
    const [, , , root, mountpoint] = line.slice(0, sep).split(' ');
    if (root === undefined || mountpoint === undefined) continue;
    const controllers = superOpts.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'noprefix' && o !== 'xattr');
    const key = controllers.join(',');
    const ownPath = own.get(key);
    if (ownPath === undefined || root !== '/' || out.some((h) => h.name === path.basename(mountpoint))) continue;
    out.push({ name: path.basename(mountpoint), controllers, mountpoint, own: ownPath });
  }
  return out;
}

/** The container's cgroup directory in each hierarchy. */
export function cgroupPaths(cgroupsPath: string | undefined, id: string, hs: Hierarchy[] = hierarchies()): Record<string, string> {
  const rel = cgroupsPath === undefined || cgroupsPath === '' ? id : cgroupsPath;
  if (rel.includes(':')) throw invalidField('/linux/cgroupsPath', 'systemd-style "slice:prefix:name" paths need the systemd cgroup driver, which podrun does not have');
  const norm = path.posix.normalize(rel);
  if (norm.split('/').includes('..')) throw invalidField('/linux/cgroupsPath', 'must not contain ".."');
  // The container's cgroup is emptied and removed on delete: it must never be the caller's own
  // cgroup or a hierarchy's root.
  if (norm === '.' || norm === '/' || norm === './') throw invalidField('/linux/cgroupsPath', `"${rel}" names the caller's own cgroup or the root; give a cgroup of the container's own`);
  const out: Record<string, string> = {};
  for (const h of hs) {
    const dir = norm.startsWith('/') ? path.join(h.mountpoint, norm) : path.join(h.mountpoint, h.own, norm);
    // Safety on a shared machine: podrun creates, limits, signals and removes only cgroups strictly
    // beneath the cgroup it runs in. An absolute path elsewhere (a sibling, an ancestor such as
    // "/process_api", or the own cgroup itself) would make `kill --all` and `delete` act on other people's processes.
    const ownDir = path.join(h.mountpoint, h.own);
    if (!dir.startsWith(ownDir.endsWith('/') ? ownDir : `${ownDir}/`)) {
      throw invalidField(
        '/linux/cgroupsPath',
        `"${rel}" resolves to ${dir} in the ${h.name} hierarchy, which is not beneath this process's own cgroup ${ownDir}; use a relative path or an absolute one beneath it`,
      );
    }
    out[h.name] = dir;
  }
  return out;
}

/** Writes an existing control file: O_WRONLY|O_TRUNC without O_CREAT, as runc (a missing file is an error, never a new file). */
function writeFile(dir: string, file: string, value: string): void {
  const fd = fs.openSync(path.join(dir, file), fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  try {
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}

function write(dir: string, file: string, value: string | number): void {
  try {
    writeFile(dir, file, String(value));
  } catch (err) {
    throw toPodkitError(err, `cgroup: write ${value} to ${path.join(dir, file)}`);
  }
}

/** Creates the directories, copying cpuset.cpus/mems down into each new level (an empty cpuset takes no tasks). */
export function createCgroups(paths: Record<string, string>, hs: Hierarchy[] = hierarchies()): void {
  for (const h of hs) {
    const dir = paths[h.name];
    if (!dir) continue;
    const missing: string[] = [];
    for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      fs.mkdirSync(d);
      if (h.controllers.includes('cpuset')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) write(d, f, fs.readFileSync(path.join(path.dirname(d), f), 'utf8').trim());
      }
    }
  }
}

// ---- resources -------------------------------------------------------------------------------------

const R = '/linux/resources';

/** runc (since 1.1) ignores kernel memory limits with a warning; so does podrun. */
export const KERNEL_MEMORY_WARNING = `${R}/memory/kernel is ignored: kernel memory limits are deprecated and not applied (as runc since 1.1)`;

/** One write into a container's v1 cgroup, with the config field it comes from (for the error). */
export interface V1Write {
  controller: string;
  file: string;
  value: string;
  field: string;
  /**
   * The kernel may refuse this value with EINVAL until the write after it is done (a new period
   * against the old quota or rt runtime, as runc notes): then it is retried right after that write.
   */
  deferOnEinval?: boolean;
}

/** What the planner may ask about the container's cgroups. */
export interface V1Host {
  /** Whether a hierarchy with this controller is mounted here (and holds the container's cgroup). */
  mounted(controller: string): boolean;
  /** Whether the container's cgroup of this controller has a control file. */
  has(controller: string, file: string): boolean;
  /** A control file's current content, or undefined. */
  read(controller: string, file: string): string | undefined;
}

/** The container's folder of a controller: its own hierarchy ("memory") or a joint one ("cpu,cpuacct"). */
export function controllerDir(paths: Record<string, string>, controller: string): string | undefined {
  if (paths[controller]) return paths[controller];
  for (const [name, dir] of Object.entries(paths)) if (name.split(',').includes(controller)) return dir;
  return undefined;
}

/** The planner's view of a container's existing cgroups. */
export function v1Host(paths: Record<string, string>): V1Host {
  return {
    mounted: (c) => controllerDir(paths, c) !== undefined,
    has: (c, f) => {
      const dir = controllerDir(paths, c);
      return dir !== undefined && fs.existsSync(path.join(dir, f));
    },
    read: (c, f) => readText(controllerDir(paths, c), f),
  };
}

/**
 * The planner's view before anything is created: which controllers the host mounts; every file is
 * assumed present (a missing one fails when written, naming its field, as runc fails).
 */
export function v1PrecheckHost(controllers: readonly string[]): V1Host {
  return { mounted: (c) => controllers.includes(c), has: () => true, read: () => undefined };
}

/** The `rdma.max` line of one device (the same format on v1 and v2). */
export function rdmaLine(dev: string, l: { hcaHandles?: number; hcaObjects?: number }, field: string): string {
  if (!/^[^\s/]+$/.test(dev)) throw invalidField(field, 'must be an rdma device name (no blanks or "/")');
  if (l.hcaHandles === undefined && l.hcaObjects === undefined) throw invalidField(field, 'sets neither hcaHandles nor hcaObjects');
  const parts = [dev];
  if (l.hcaHandles !== undefined) parts.push(`hca_handle=${l.hcaHandles}`);
  if (l.hcaObjects !== undefined) parts.push(`hca_object=${l.hcaObjects}`);
  return parts.join(' ');
}

const notMounted = (c: string) => `the ${c} controller is not mounted here (no cgroup v1 hierarchy of this process has it)`;

/**
 * The writes a resources block means on cgroup v1, in runc's order, after validating every field;
 * every value this host cannot apply is an InvalidArgument naming its field. Warnings (settings
 * that are accepted and ignored, as runc does) go to `warnings`.
 */
export function planResourcesV1(r: LinuxResources, host: V1Host, warnings: string[] = []): V1Write[] {
  const out: V1Write[] = [];
  const need = (c: string, field: string) => {
    if (!host.mounted(c)) throw invalidField(field, notMounted(c));
  };
  const add = (controller: string, file: string, value: string | number, field: string, deferOnEinval = false) =>
    out.push({ controller, file, value: String(value), field, ...(deferOnEinval ? { deferOnEinval } : {}) });
  const needFile = (c: string, file: string, field: string, why: string) => {
    if (!host.has(c, file)) throw invalidField(field, `this kernel has no ${file} here (${why})`);
  };

  if (r.unified && Object.keys(r.unified).length > 0) {
    throw invalidField(`${R}/unified`, "cgroup v2 settings cannot be applied: this host's containers use cgroup v1 (runc refuses them on v1 too)");
  }

  const m = r.memory;
  if (m) {
    if (m.kernel !== undefined) warnings.push(KERNEL_MEMORY_WARNING);
    const fields = ['limit', 'reservation', 'swap', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate'] as const;
    const first = fields.find((f) => m[f] !== undefined);
    if (first) need('memory', `${R}/memory/${first}`);
    const limit = m.limit;
    let swap = m.swap;
    const hasMemsw = first !== undefined && host.has('memory', 'memory.memsw.limit_in_bytes');
    // runc: an unlimited memory with no swap setting makes swap unlimited too, where swap is accounted.
    if (limit === -1 && swap === undefined && hasMemsw) swap = -1;
    if (m.checkBeforeUpdate && limit !== undefined && limit > 0) {
      const usage = Number(host.read('memory', 'memory.usage_in_bytes')?.trim());
      if (Number.isFinite(usage) && limit < usage) throw invalidField(`${R}/memory/limit`, `${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
    }
    const memWrite = () => {
      if (limit !== undefined && limit !== 0) add('memory', 'memory.limit_in_bytes', limit, `${R}/memory/limit`);
    };
    const swapWrite = () => {
      if (swap === undefined || swap === 0) return;
      if (!hasMemsw) {
        if (swap !== limit && swap !== -1) throw invalidField(`${R}/memory/swap`, 'this kernel has no swap accounting (memory.memsw.limit_in_bytes)');
        return;
      }
      add('memory', 'memory.memsw.limit_in_bytes', swap, `${R}/memory/swap`);
    };
    // memsw must stay >= the memory limit at every step: raise swap first when the new swap is above
    // the current memory limit (or unlimited), else lower the memory limit first (runc's order).
    const current = Number(host.read('memory', 'memory.limit_in_bytes')?.trim());
    if (limit !== undefined && limit !== 0 && swap !== undefined && swap !== 0 && (swap === -1 || (Number.isFinite(current) && current < swap))) {
      swapWrite();
      memWrite();
    } else {
      memWrite();
      swapWrite();
    }
    if (m.kernelTCP !== undefined && m.kernelTCP !== 0) {
      needFile('memory', 'memory.kmem.tcp.limit_in_bytes', `${R}/memory/kernelTCP`, 'no kernel TCP memory accounting');
      add('memory', 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP, `${R}/memory/kernelTCP`);
    }
    if (m.reservation !== undefined && m.reservation !== 0) add('memory', 'memory.soft_limit_in_bytes', m.reservation, `${R}/memory/reservation`);
    if (m.disableOOMKiller) add('memory', 'memory.oom_control', 1, `${R}/memory/disableOOMKiller`);
    if (m.swappiness !== undefined) {
      if (m.swappiness > 100) throw invalidField(`${R}/memory/swappiness`, `must be within 0..100, got ${m.swappiness}`);
      add('memory', 'memory.swappiness', m.swappiness, `${R}/memory/swappiness`);
    }
    if (m.useHierarchy !== undefined) {
      needFile('memory', 'memory.use_hierarchy', `${R}/memory/useHierarchy`, 'no memory.use_hierarchy');
      add('memory', 'memory.use_hierarchy', m.useHierarchy ? 1 : 0, `${R}/memory/useHierarchy`);
    }
  }

  const c = r.cpu;
  if (c) {
    const C = `${R}/cpu`;
    const cpuFields = ['shares', 'period', 'quota', 'burst', 'idle', 'realtimePeriod', 'realtimeRuntime'] as const;
    const first = cpuFields.find((f) => c[f] !== undefined);
    if (first) need('cpu', `${C}/${first}`);
    if (c.shares !== undefined && c.shares !== 0) add('cpu', 'cpu.shares', c.shares, `${C}/shares`);
    // A smaller period may be refused against the old quota until the quota is written (runc).
    if (c.period !== undefined && c.period !== 0) add('cpu', 'cpu.cfs_period_us', c.period, `${C}/period`, c.quota !== undefined && c.quota !== 0);
    if (c.quota !== undefined && c.quota !== 0) add('cpu', 'cpu.cfs_quota_us', c.quota, `${C}/quota`);
    if (c.burst !== undefined) {
      needFile('cpu', 'cpu.cfs_burst_us', `${C}/burst`, 'CFS burst needs Linux 5.14');
      add('cpu', 'cpu.cfs_burst_us', c.burst, `${C}/burst`);
    }
    if (c.idle !== undefined) {
      if (c.idle !== 0 && c.idle !== 1) throw invalidField(`${C}/idle`, `must be 0 or 1, got ${c.idle}`);
      needFile('cpu', 'cpu.idle', `${C}/idle`, 'SCHED_IDLE groups need Linux 5.15');
      add('cpu', 'cpu.idle', c.idle, `${C}/idle`);
    }
    // Realtime: the period before the runtime; a period the kernel refuses against the old runtime
    // is written again after the runtime (runc's order).
    const rt = 'no realtime group scheduling: the kernel lacks CONFIG_RT_GROUP_SCHED';
    if (c.realtimePeriod !== undefined && c.realtimePeriod !== 0) {
      needFile('cpu', 'cpu.rt_period_us', `${C}/realtimePeriod`, rt);
      add('cpu', 'cpu.rt_period_us', c.realtimePeriod, `${C}/realtimePeriod`, c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0);
    }
    if (c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0) {
      needFile('cpu', 'cpu.rt_runtime_us', `${C}/realtimeRuntime`, rt);
      add('cpu', 'cpu.rt_runtime_us', c.realtimeRuntime, `${C}/realtimeRuntime`);
    }
    if (c.cpus) {
      need('cpuset', `${C}/cpus`);
      add('cpuset', 'cpuset.cpus', c.cpus, `${C}/cpus`);
    }
    if (c.mems) {
      need('cpuset', `${C}/mems`);
      add('cpuset', 'cpuset.mems', c.mems, `${C}/mems`);
    }
  }

  if (r.pids) {
    need('pids', `${R}/pids/limit`);
    add('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max', `${R}/pids/limit`);
  }

  if (r.devices) {
    need('devices', `${R}/devices`);
    const rules = deviceRules(r.devices);
    rules.forEach((d, i) => {
      for (const line of v1RuleLines(d)) add('devices', d.allow ? 'devices.allow' : 'devices.deny', line, `${R}/devices/${i}`);
    });
    for (const d of DEFAULT_ALLOWED_DEVICES) for (const line of v1RuleLines(d)) add('devices', 'devices.allow', line, `${R}/devices`);
  }

  const b = r.blockIO;
  if (b) {
    const B = `${R}/blockIO`;
    const lists = ['weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const;
    const first = (['weight', 'leafWeight'] as const).find((f) => b[f] !== undefined) ?? lists.find((f) => (b[f]?.length ?? 0) > 0);
    if (first) need('blkio', `${B}/${first}`);
    // CFQ's files (blkio.weight) or, since 5.0, BFQ's (blkio.bfq.weight), which exist only while a
    // device uses that scheduler; runc fails with the missing file, as here.
    const cfq = first !== undefined && host.has('blkio', 'blkio.weight');
    const weightFile = (field: string, file: string) => {
      if (cfq) return file;
      const bfq = file.replace('blkio.', 'blkio.bfq.');
      if (host.has('blkio', bfq)) return bfq;
      throw invalidField(field, `this kernel has neither ${file} (CFQ) nor ${bfq} (BFQ) here: no device uses a proportional-weight I/O scheduler`);
    };
    if (b.weight !== undefined && b.weight !== 0) add('blkio', weightFile(`${B}/weight`, 'blkio.weight'), b.weight, `${B}/weight`);
    if (b.leafWeight !== undefined && b.leafWeight !== 0) {
      needFile('blkio', 'blkio.leaf_weight', `${B}/leafWeight`, 'leaf weights are CFQ only (removed in Linux 5.0)');
      add('blkio', 'blkio.leaf_weight', b.leafWeight, `${B}/leafWeight`);
    }
    (b.weightDevice ?? []).forEach((d, i) => {
      const f = `${B}/weightDevice/${i}`;
      if (d.weight !== undefined && d.weight !== 0) add('blkio', weightFile(`${f}/weight`, 'blkio.weight_device'), `${d.major}:${d.minor} ${d.weight}`, `${f}/weight`);
      if (d.leafWeight !== undefined && d.leafWeight !== 0) {
        needFile('blkio', 'blkio.leaf_weight_device', `${f}/leafWeight`, 'leaf weights are CFQ only (removed in Linux 5.0)');
        add('blkio', 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`, `${f}/leafWeight`);
      }
    });
    const throttles = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ] as const;
    for (const [field, file] of throttles) {
      (b[field] ?? []).forEach((t, i) => add('blkio', file, `${t.major}:${t.minor} ${t.rate}`, `${B}/${field}/${i}`));
    }
  }

  (r.hugepageLimits ?? []).forEach((h, i) => {
    const f = `${R}/hugepageLimits/${i}`;
    need('hugetlb', f);
    if (!/^\d+[KMG]B$/.test(h.pageSize)) throw invalidField(`${f}/pageSize`, `must look like "2MB" or "1GB", got "${h.pageSize}"`);
    const file = `hugetlb.${h.pageSize}.limit_in_bytes`;
    if (!host.has('hugetlb', file)) throw invalidField(`${f}/pageSize`, `this kernel has no ${h.pageSize} huge pages (${file})`);
    add('hugetlb', file, h.limit, `${f}/limit`);
    // Reservations are limited alike where the kernel accounts them (5.7+), as runc does.
    const rsvd = `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`;
    if (host.has('hugetlb', rsvd)) add('hugetlb', rsvd, h.limit, `${f}/limit`);
  });

  const n = r.network;
  if (n) {
    if (n.classID !== undefined) {
      need('net_cls', `${R}/network/classID`);
      add('net_cls', 'net_cls.classid', n.classID, `${R}/network/classID`);
    }
    (n.priorities ?? []).forEach((p, i) => {
      const f = `${R}/network/priorities/${i}`;
      need('net_prio', f);
      if (!/^[^\s/]+$/.test(p.name) || p.name.length > 15) throw invalidField(`${f}/name`, `must be a network interface name (1-15 characters, no blanks or "/"), got "${p.name}"`);
      add('net_prio', 'net_prio.ifpriomap', `${p.name} ${p.priority}`, f);
    });
  }

  for (const [dev, l] of Object.entries(r.rdma ?? {})) {
    const f = `${R}/rdma/${dev.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    need('rdma', f);
    add('rdma', 'rdma.max', rdmaLine(dev, l, f), f);
  }
  return out;
}

/** The error of a refused write: names the field, keeps the errno's class, and explains EINVAL on realtime. */
function writeError(w: V1Write, dir: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  let why = `writing "${w.value}" to ${path.join(dir, w.file)} failed: ${code || (err as Error).message}`;
  if (code === 'ENOENT') why = `this kernel has no ${w.file} here (${path.join(dir, w.file)})`;
  else if (code === 'EINVAL' && w.file.startsWith('cpu.rt_')) {
    const parent = path.dirname(dir);
    const pr = readText(parent, 'cpu.rt_runtime_us')?.trim();
    const pp = readText(parent, 'cpu.rt_period_us')?.trim();
    why += `: a cgroup's realtime runtime must fit in its period and in what its parent (${parent}: rt_runtime_us ${pr ?? '?'} per rt_period_us ${pp ?? '?'}) has not given to other children`;
  } else if ((code === 'EOPNOTSUPP' || code === 'ENOTSUP') && w.file.startsWith('blkio.bfq.')) {
    why += ': the device does not use the BFQ I/O scheduler (see /sys/block/<disk>/queue/scheduler)';
  } else if (code === 'EINVAL') why += ': the kernel refused the value';
  return errorFromCode(code ? codeForErrno(code) : 'Internal', `${w.field}: ${why}`, { cause: err, details: { field: w.field, ...(code ? { errno: code } : {}) } });
}

/** Carries out planned writes; a write marked deferOnEinval that the kernel refuses is retried after the next one. */
export function executeV1(paths: Record<string, string>, plan: readonly V1Write[]): void {
  const deferred: V1Write[] = [];
  const dirOf = (w: V1Write) => {
    const dir = controllerDir(paths, w.controller);
    if (!dir) throw invalidField(w.field, notMounted(w.controller));
    return dir;
  };
  const run = (w: V1Write, mayDefer: boolean) => {
    const dir = dirOf(w);
    try {
      writeFile(dir, w.file, w.value);
      return true;
    } catch (err) {
      if (mayDefer && w.deferOnEinval && (err as NodeJS.ErrnoException).code === 'EINVAL') return false;
      throw writeError(w, dir, err);
    }
  };
  for (const w of plan) {
    if (!run(w, true)) {
      deferred.push(w);
      continue;
    }
    while (deferred.length > 0) run(deferred.shift() as V1Write, false);
  }
  for (const w of deferred) run(w, false);
}

/** Writes the config's limits into the container's cgroups. */
export function applyResources(paths: Record<string, string>, r: LinuxResources | undefined, warnings: string[] = []): void {
  if (!r) return;
  executeV1(paths, planResourcesV1(r, v1Host(paths), warnings));
}

/** Moves a process into the container's cgroup in every hierarchy. */
export function placeProcess(paths: Record<string, string>, pid: number): void {
  for (const dir of Object.values(paths)) write(dir, 'cgroup.procs', pid);
}

/** Pids in the container's cgroups (from the first hierarchy that exists). */
export function cgroupPids(paths: Record<string, string>): number[] {
  for (const dir of Object.values(paths)) {
    try {
      return fs
        .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      /* try the next hierarchy */
    }
  }
  return [];
}

/** Removes the container's cgroups, polling while exiting processes still hold them (EBUSY). */
export async function removeCgroups(paths: Record<string, string>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const dir of Object.values(paths)) {
    for (;;) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() > deadline) {
          if (code === 'EBUSY') throw new DeadlineExceededError(`cgroup ${dir} still has processes after ${timeoutMs} ms`);
          throw toPodkitError(err, `remove cgroup ${dir}`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
}

// ---- freezer, stats ------------------------------------------------------------------------------

export type FreezerState = 'THAWED' | 'FREEZING' | 'FROZEN';

/** The freezer state of the container's cgroup (THAWED when there is no freezer hierarchy or cgroup). */
export function freezerState(paths: Record<string, string>): FreezerState {
  const dir = paths['freezer'];
  if (!dir) return 'THAWED';
  try {
    return fs.readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() as FreezerState;
  } catch {
    return 'THAWED';
  }
}

/**
 * Freezes (or thaws) every process of the container's cgroup and waits until the kernel reports the
 * new state (freezing is asynchronous in v1: FREEZING until every task stopped).
 */
export async function setFrozen(paths: Record<string, string>, frozen: boolean, timeoutMs = 5000): Promise<void> {
  const dir = paths['freezer'];
  if (!dir) throw new FailedPreconditionError('cgroup: no freezer hierarchy is mounted, so containers cannot be paused');
  const want: FreezerState = frozen ? 'FROZEN' : 'THAWED';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    write(dir, 'freezer.state', want);
    if (freezerState(paths) === want) return;
    if (Date.now() > deadline) throw new DeadlineExceededError(`cgroup ${dir}: freezer did not reach ${want} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function readNumber(dir: string | undefined, file: string): number | undefined {
  if (!dir) return undefined;
  try {
    const n = Number(fs.readFileSync(path.join(dir, file), 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function readKeyed(dir: string | undefined, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!dir) return out;
  try {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) out[k] = Number(v);
    }
  } catch {
    /* no such file: empty */
  }
  return out;
}

const u64 = (n: number | undefined): number => n ?? 0;

function readText(dir: string | undefined, file: string): string | undefined {
  if (!dir) return undefined;
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch {
    return undefined;
  }
}

const BLKIO_FILES: Record<BlkioKey, string> = {
  ioServiceBytesRecursive: 'io_service_bytes_recursive',
  ioServicedRecursive: 'io_serviced_recursive',
  ioQueueRecursive: 'io_queued_recursive',
  ioServiceTimeRecursive: 'io_service_time_recursive',
  ioWaitTimeRecursive: 'io_wait_time_recursive',
  ioMergedRecursive: 'io_merged_recursive',
  ioTimeRecursive: 'time_recursive',
  sectorsRecursive: 'sectors_recursive',
};
const FULL_ORDER: BlkioKey[] = ['sectorsRecursive', 'ioServiceTimeRecursive', 'ioWaitTimeRecursive', 'ioMergedRecursive', 'ioQueueRecursive', 'ioTimeRecursive', 'ioServicedRecursive', 'ioServiceBytesRecursive'];
const full = (prefix: string): [BlkioKey, string][] => FULL_ORDER.map((k) => [k, `${prefix}${BLKIO_FILES[k]}`]);
/** runc 1.1's groups of blkio files, in its order: BFQ debug, BFQ, CFQ, throttle (recursive), throttle. */
const BLKIO_GROUPS: [BlkioKey, string][][] = [
  full('blkio.bfq.'),
  [
    ['ioServicedRecursive', 'blkio.bfq.io_serviced_recursive'],
    ['ioServiceBytesRecursive', 'blkio.bfq.io_service_bytes_recursive'],
  ],
  full('blkio.'),
  [
    ['ioServicedRecursive', 'blkio.throttle.io_serviced_recursive'],
    ['ioServiceBytesRecursive', 'blkio.throttle.io_service_bytes_recursive'],
  ],
  [
    ['ioServicedRecursive', 'blkio.throttle.io_serviced'],
    ['ioServiceBytesRecursive', 'blkio.throttle.io_service_bytes'],
  ],
];

/**
 * v1 blkio stats as runc 1.1 reads them: the first group of files whose first file has entries (a
 * missing or empty file has none), filled until a file of the group has none.
 */
export function blkioStats(dir: string | undefined, read: (dir: string, file: string) => string | undefined = readText): Blkio {
  const out: Blkio = {};
  if (!dir) return out;
  for (const group of BLKIO_GROUPS) {
    for (const [i, [key, file]] of group.entries()) {
      const entries = parseBlkioV1(read(dir, file) ?? '');
      if (entries.length === 0) {
        if (i === 0) break;
        return sortBlkio(out);
      }
      out[key] = entries;
      if (i === group.length - 1) return sortBlkio(out);
    }
  }
  return out;
}

/** In runc's struct (JSON) order. */
function sortBlkio(b: Blkio): Blkio {
  const out: Blkio = {};
  for (const k of BLKIO_KEYS) if (b[k]) out[k] = b[k];
  return out;
}

function hugetlbStats(dir: string | undefined): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  if (!dir) return out;
  for (const size of hostHugePageSizes()) {
    const n = (f: string) => u64(readNumber(dir, `hugetlb.${size}.${f}`));
    out[size] = omitEmpty({ usage: n('usage_in_bytes'), max: n('max_usage_in_bytes'), failcnt: n('failcnt') }, ['usage', 'max']) as Record<string, number>;
  }
  return out;
}

function cpusetStats(dir: string | undefined): Record<string, unknown> {
  const n = (f: string) => u64(readNumber(dir, `cpuset.${f}`));
  return omitEmpty(
    {
      cpus: parseCpuList(readText(dir, 'cpuset.cpus') ?? ''),
      cpu_exclusive: n('cpu_exclusive'),
      mems: parseCpuList(readText(dir, 'cpuset.mems') ?? ''),
      mem_hardwall: n('mem_hardwall'),
      mem_exclusive: n('mem_exclusive'),
      memory_migrate: n('memory_migrate'),
      memory_spread_page: n('memory_spread_page'),
      memory_spread_slab: n('memory_spread_slab'),
      memory_pressure: n('memory_pressure'),
      sched_load_balance: n('sched_load_balance'),
      sched_relax_domain_level: n('sched_relax_domain_level'),
    },
    ['cpus', 'mems'],
  );
}

/**
 * The container's resource usage as runc 1.1 prints it in `events --stats` (types.Stats: key order and
 * `omitempty` rules of its Go structs): cpu, cpuset, memory, pids, blkio, hugetlb, intel_rdt (always
 * empty: no RDT support), network_interfaces (null, as runc).
 */
export function stats(paths: Record<string, string>): Record<string, unknown> {
  // By controller, so joint hierarchies ("cpu,cpuacct") are found too.
  const dir = (c: string) => controllerDir(paths, c);
  const cpuacct = dir('cpuacct') ?? dir('cpu');
  const cpu = dir('cpu');
  const mem = dir('memory');
  const perCpu = (readText(cpuacct, 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const modes = parseUsageAll(readText(cpuacct, 'cpuacct.usage_all') ?? '');
  const cpuStat = readKeyed(cpuacct, 'cpuacct.stat');
  const throttle = readKeyed(cpu, 'cpu.stat');
  const memStat = readKeyed(mem, 'memory.stat');
  const memEntry = (prefix: string) =>
    memoryEntry(
      u64(readNumber(mem, `${prefix}.limit_in_bytes`)),
      u64(readNumber(mem, `${prefix}.usage_in_bytes`)),
      u64(readNumber(mem, `${prefix}.max_usage_in_bytes`)),
      u64(readNumber(mem, `${prefix}.failcnt`)),
    );
  // USER_HZ is 100 on Linux: cpuacct.stat counts ticks of 10 ms.
  const ticks = (n: number | undefined) => u64(n) * 10_000_000;
  const pidsMax = (() => {
    const v = readText(dir('pids'), 'pids.max')?.trim();
    return v === undefined || v === 'max' ? 0 : u64(Number(v));
  })();
  return {
    cpu: {
      usage: omitEmpty(
        {
          total: u64(readNumber(cpuacct, 'cpuacct.usage')),
          percpu: perCpu,
          percpu_kernel: modes.kernel,
          percpu_user: modes.user,
          kernel: ticks(cpuStat['system']),
          user: ticks(cpuStat['user']),
        },
        ['total', 'percpu', 'percpu_kernel', 'percpu_user'],
      ),
      throttling: omitEmpty(
        { periods: u64(throttle['nr_periods']), throttledPeriods: u64(throttle['nr_throttled']), throttledTime: u64(throttle['throttled_time']) },
        ['periods', 'throttledPeriods', 'throttledTime'],
      ),
    },
    cpuset: cpusetStats(dir('cpuset')),
    memory: omitEmpty(
      {
        cache: u64(memStat['cache']),
        usage: memEntry('memory'),
        swap: memEntry('memory.memsw'),
        kernel: memEntry('memory.kmem'),
        kernelTCP: memEntry('memory.kmem.tcp'),
        raw: sortedKeys(memStat),
      },
      ['cache', 'raw'],
    ),
    pids: omitEmpty({ current: u64(readNumber(dir('pids'), 'pids.current')), limit: pidsMax }, ['current', 'limit']),
    blkio: blkioStats(dir('blkio')),
    hugetlb: hugetlbStats(dir('hugetlb')),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** memory.oom_control's `oom_kill` counter (kernels >= 4.13), or undefined. */
export function oomKillCount(paths: Record<string, string>): number | undefined {
  const v = readKeyed(controllerDir(paths, 'memory'), 'memory.oom_control')['oom_kill'];
  return v;
}

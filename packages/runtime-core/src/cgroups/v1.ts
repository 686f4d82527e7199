/**
 * Cgroups v1 (this host is hybrid: one hierarchy per controller, plus name=systemd). A relative
 * `cgroupsPath` lands beneath the caller's own cgroup in each hierarchy, as runc does, which also
 * keeps tests beneath the test process's cgroup. Limits are written only into the container's own
 * (newly created) cgroups, never into the caller's or above.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeadlineExceededError, FailedPreconditionError, invalidField, toPodkitError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
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

function write(dir: string, file: string, value: string | number): void {
  try {
    fs.writeFileSync(path.join(dir, file), String(value));
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

// What runc allows in every container on cgroup v1 besides the config's rules.
const DEFAULT_ALLOWED_DEVICES = ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:9 rwm', 'c 1:8 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm'];

/** Writes the config's limits into the container's cgroups. */
export function applyResources(paths: Record<string, string>, r: LinuxResources | undefined): void {
  if (!r) return;
  const mem = paths['memory'];
  if (r.memory && mem) {
    if (r.memory.reservation !== undefined) write(mem, 'memory.soft_limit_in_bytes', r.memory.reservation);
    if (r.memory.limit !== undefined) write(mem, 'memory.limit_in_bytes', r.memory.limit);
    if (r.memory.swap !== undefined) {
      if (!fs.existsSync(path.join(mem, 'memory.memsw.limit_in_bytes'))) {
        if (r.memory.swap !== r.memory.limit && r.memory.swap !== -1) throw new FailedPreconditionError('/linux/resources/memory/swap: this kernel has no swap accounting (memory.memsw.*)');
      } else {
        write(mem, 'memory.memsw.limit_in_bytes', r.memory.swap);
      }
    }
    if (r.memory.swappiness !== undefined && r.memory.swappiness <= 100) write(mem, 'memory.swappiness', r.memory.swappiness);
    if (r.memory.disableOOMKiller) write(mem, 'memory.oom_control', 1);
  }
  const cpu = paths['cpu'];
  if (r.cpu && cpu) {
    if (r.cpu.shares !== undefined) write(cpu, 'cpu.shares', r.cpu.shares);
    if (r.cpu.period !== undefined) write(cpu, 'cpu.cfs_period_us', r.cpu.period);
    if (r.cpu.quota !== undefined) write(cpu, 'cpu.cfs_quota_us', r.cpu.quota);
  }
  const cpuset = paths['cpuset'];
  if (r.cpu && cpuset) {
    if (r.cpu.cpus) write(cpuset, 'cpuset.cpus', r.cpu.cpus);
    if (r.cpu.mems) write(cpuset, 'cpuset.mems', r.cpu.mems);
  }
  const pids = paths['pids'];
  if (r.pids && pids) write(pids, 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
  const devices = paths['devices'];
  if (r.devices && devices) {
    for (const d of r.devices) {
      const type = d.type ?? 'a';
      const rule = type === 'a' ? 'a' : `${type} ${d.major ?? '*'}:${d.minor ?? '*'} ${d.access ?? 'rwm'}`;
      write(devices, d.allow ? 'devices.allow' : 'devices.deny', rule);
    }
    for (const rule of DEFAULT_ALLOWED_DEVICES) write(devices, 'devices.allow', rule);
  }
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
  const cpuacct = paths['cpuacct'] ?? paths['cpu'];
  const cpu = paths['cpu'];
  const mem = paths['memory'];
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
    const v = readText(paths['pids'], 'pids.max')?.trim();
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
    cpuset: cpusetStats(paths['cpuset']),
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
    pids: omitEmpty({ current: u64(readNumber(paths['pids'], 'pids.current')), limit: pidsMax }, ['current', 'limit']),
    blkio: blkioStats(paths['blkio']),
    hugetlb: hugetlbStats(paths['hugetlb']),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** memory.oom_control's `oom_kill` counter (kernels >= 4.13), or undefined. */
export function oomKillCount(paths: Record<string, string>): number | undefined {
  const v = readKeyed(paths['memory'], 'memory.oom_control')['oom_kill'];
  return v;
}

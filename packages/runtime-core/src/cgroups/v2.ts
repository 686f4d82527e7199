/**
 * Cgroups v2 (the unified hierarchy). `detectLayout` tells which backend a host needs, and this
 * module is the v2 one (chosen by backend.ts on a pure cgroup2 host). Every file access goes through a
 * `CgroupFs` seam so the backend is tested on a fake tree (fake-tree.ts), never on the real cgroupfs.
 *
 * Safety, as in v1: the container's cgroup lies strictly beneath the caller's own cgroup; only
 * cgroups this module created get their `cgroup.subtree_control` written, never the caller's own
 * cgroup or anything above it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeadlineExceededError, FailedPreconditionError, invalidField, toPodkitError, type PodkitError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { bpfAttachDeviceProgram, bpfDetachDeviceProgram, bpfLoadDeviceProgram, bpfProgramFd, bpfQueryDevicePrograms } from '../sys/native';
import { deviceFilter, deviceRules } from './devicefilter';
import { type Blkio, memoryEntry, omitEmpty, parseIoStatV2, sortedKeys } from './runc-stats';
import { rdmaLine } from './v1';

// ---- detection -------------------------------------------------------------------------------------

export interface V1Mount {
  mountpoint: string;
  /** Controllers (or `name=systemd`) of the hierarchy. */
  controllers: string[];
  /** This process's cgroup in the hierarchy, relative to the mount. */
  own: string;
}

export interface UnifiedMount {
  mountpoint: string;
  /** This process's cgroup in the unified hierarchy (`0::<path>`), relative to the mount. */
  own: string;
}

export type CgroupLayout =
  | { mode: 'v1'; v1: V1Mount[] }
  | { mode: 'v2'; unified: UnifiedMount }
  | { mode: 'hybrid'; v1: V1Mount[]; unified: UnifiedMount };

const MOUNT_FLAGS = new Set(['rw', 'ro', 'clone_children', 'noprefix', 'xattr', 'cpuset_v2_mode', 'nsdelegate', 'memory_recursiveprot', 'memory_localevents', 'favordynmods']);

/** mountinfo escapes blanks and backslashes as \ooo. */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function relativeToMount(own: string, root: string): string {
  if (root === '/' || root === '') return own;
  if (own === root) return '/';
  return own.startsWith(`${root}/`) ? own.slice(root.length) : own;
}

/**
 * Which cgroup versions a host runs, from the contents of /proc/self/mountinfo and /proc/self/cgroup
 * (a pure function: the caller reads the files). v1 controller mounts plus a cgroup2 mount is
 * "hybrid" (systemd's layout, and this machine's: the cgroup2 mount then holds only what no v1
 * hierarchy claimed, e.g. hugetlb).
 */
export function detectLayout(mountinfo: string, procSelfCgroup: string): CgroupLayout {
  const ownV1 = new Map<string, string>();
  let ownV2: string | undefined;
  for (const line of procSelfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') ownV2 = m[3];
    else if (m[2]) ownV1.set(m[2], m[3] ?? '/');
  }
  const v1: V1Mount[] = [];
  let unified: UnifiedMount | undefined;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const [, , , rootField, mountField] = line.slice(0, sep).split(' ');
    if (rootField === undefined || mountField === undefined) continue;
    const root = unescapeMount(rootField);
    const mountpoint = unescapeMount(mountField);
    if (fstype === 'cgroup2') {
      // With several cgroup2 mounts (bind mounts), the first one at the hierarchy root wins.
      if (unified || ownV2 === undefined) continue;
      unified = { mountpoint, own: relativeToMount(ownV2, root) };
    } else if (fstype === 'cgroup') {
      const controllers = superOpts.split(',').filter((o) => !MOUNT_FLAGS.has(o) && !o.startsWith('release_agent='));
      const own = ownV1.get(controllers.join(','));
      if (own === undefined || v1.some((h) => h.controllers.join(',') === controllers.join(','))) continue;
      v1.push({ mountpoint, controllers, own: relativeToMount(own, root) });
    }
  }
  if (unified && v1.length > 0) return { mode: 'hybrid', v1, unified };
  if (unified) return { mode: 'v2', unified };
  if (v1.length > 0) return { mode: 'v1', v1 };
  throw new FailedPreconditionError('cgroup: neither a cgroup v1 hierarchy nor a cgroup2 mount of this process was found in /proc/self/mountinfo');
}

/** detectLayout over this process's own files. */
export function hostLayout(): CgroupLayout {
  return detectLayout(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'));
}

// ---- file access seam ------------------------------------------------------------------------------

export interface CgroupFs {
  mkdir(dir: string): void;
  rmdir(dir: string): void;
  exists(dir: string, file: string): boolean;
  read(dir: string, file: string): string;
  /** Writes an existing control file (never creates one: cgroupfs has no such thing). */
  write(dir: string, file: string, value: string): void;
  /**
   * Makes `program` (a BPF_PROG_TYPE_CGROUP_DEVICE program, devicefilter.ts) the cgroup's device
   * filter: attached first, then the programs attached before are detached, so the cgroup is never
   * without one (runc's order).
   */
  setDeviceFilter(dir: string, program: Buffer): void;
}

export const realCgroupFs: CgroupFs = {
  mkdir: (dir) => fs.mkdirSync(dir),
  rmdir: (dir) => fs.rmdirSync(dir),
  exists: (dir, file) => fs.existsSync(path.join(dir, file)),
  read: (dir, file) => fs.readFileSync(path.join(dir, file), 'utf8'),
  write: (dir, file, value) => {
    // O_WRONLY|O_TRUNC without O_CREAT, as runc: a missing control file is an error, not a new file.
    const fd = fs.openSync(path.join(dir, file), fs.constants.O_WRONLY | fs.constants.O_TRUNC);
    try {
      fs.writeSync(fd, value);
    } finally {
      fs.closeSync(fd);
    }
  },
  setDeviceFilter: (dir, program) => replaceDeviceProgram(dir, program),
};

/** Loads and attaches a device program to `dir` (BPF_F_ALLOW_MULTI), then detaches the ones attached before. */
export function replaceDeviceProgram(dir: string, program: Buffer): void {
  const before = bpfQueryDevicePrograms(dir);
  const { fd } = bpfLoadDeviceProgram(program);
  try {
    bpfAttachDeviceProgram(dir, fd);
  } finally {
    fs.closeSync(fd);
  }
  for (const id of before) {
    const old = bpfProgramFd(id);
    try {
      bpfDetachDeviceProgram(dir, old);
    } finally {
      fs.closeSync(old);
    }
  }
}

function write(cfs: CgroupFs, dir: string, file: string, value: string | number): void {
  try {
    cfs.write(dir, file, String(value));
  } catch (err) {
    throw toPodkitError(err, `cgroup: write ${value} to ${path.join(dir, file)}`);
  }
}

// ---- paths and creation ----------------------------------------------------------------------------

/**
 * The container's cgroup directory in the unified hierarchy. A relative `cgroupsPath` (and the
 * default, the id) lands beneath the caller's own cgroup; an absolute one is taken from the mount,
 * as runc does, and must lie strictly beneath the caller's own cgroup.
 */
export function cgroupPathV2(cgroupsPath: string | undefined, id: string, unified: UnifiedMount): string {
  const rel = cgroupsPath === undefined || cgroupsPath === '' ? id : cgroupsPath;
  if (rel.includes(':')) throw invalidField('/linux/cgroupsPath', 'systemd-style "slice:prefix:name" paths need the systemd cgroup driver, which podrun does not have');
  const norm = path.posix.normalize(rel);
  if (norm.split('/').includes('..')) throw invalidField('/linux/cgroupsPath', 'must not contain ".."');
  if (norm === '.' || norm === './' || /^\/+$/.test(norm)) throw invalidField('/linux/cgroupsPath', `"${rel}" names the caller's own cgroup or the root; give a cgroup of the container's own`);
  const ownDir = path.join(unified.mountpoint, unified.own);
  const dir = norm.startsWith('/') ? path.join(unified.mountpoint, norm) : path.join(ownDir, norm);
  if (!dir.startsWith(ownDir.endsWith('/') ? ownDir : `${ownDir}/`)) {
    throw invalidField('/linux/cgroupsPath', `"${rel}" resolves to ${dir}, which is not beneath this process's own cgroup ${ownDir}; use a relative path or an absolute one beneath it`);
  }
  return dir;
}

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

/** The v2 controllers a resources block needs enabled in the container's cgroup. */
export function requiredControllers(r: LinuxResources | undefined): string[] {
  const out = new Set<string>();
  if (!r) return [];
  if (r.memory) out.add('memory');
  if (r.cpu && (r.cpu.shares !== undefined || r.cpu.quota !== undefined || r.cpu.period !== undefined || r.cpu.burst !== undefined || r.cpu.idle !== undefined)) out.add('cpu');
  if (r.cpu?.cpus || r.cpu?.mems) out.add('cpuset');
  if (r.pids) out.add('pids');
  if (r.blockIO) out.add('io');
  if (r.hugepageLimits?.length) out.add('hugetlb');
  if (r.rdma && Object.keys(r.rdma).length > 0) out.add('rdma');
  for (const key of Object.keys(r.unified ?? {})) {
    const prefix = key.split('.')[0];
    if (prefix && prefix !== 'cgroup') out.add(prefix);
  }
  return [...out].sort();
}

/**
 * Creates the container's cgroup `dir` (strictly beneath `ownDir`) and every missing level, enabling
 * `controllers` in the `cgroup.subtree_control` of each level it created above the leaf. The deepest
 * level that already existed (the caller's own cgroup at least) must already delegate them: podkit
 * never writes a cgroup it did not create. Returns the levels it created, top first.
 */
export function createCgroupV2(dir: string, ownDir: string, controllers: readonly string[], cfs: CgroupFs = realCgroupFs): string[] {
  if (!dir.startsWith(`${ownDir.replace(/\/$/, '')}/`)) throw invalidField('/linux/cgroupsPath', `${dir} is not beneath this process's own cgroup ${ownDir}`);
  const missing: string[] = [];
  let existing = dir;
  for (; !cfs.exists(existing, 'cgroup.controllers'); existing = path.dirname(existing)) missing.unshift(existing);
  if (missing.length > 0) {
    const delegated = words(cfs.read(existing, 'cgroup.subtree_control'));
    const absent = controllers.filter((c) => !delegated.includes(c));
    if (absent.length > 0) {
      throw new FailedPreconditionError(
        `cgroup: controller${absent.length > 1 ? 's' : ''} ${absent.join(', ')} not available here: not enabled in ${path.join(existing, 'cgroup.subtree_control')}, which podkit does not write because it did not create that cgroup`,
      );
    }
  }
  const created: string[] = [];
  try {
    for (const d of missing) {
      cfs.mkdir(d);
      created.push(d);
      if (d !== dir && controllers.length > 0) write(cfs, d, 'cgroup.subtree_control', controllers.map((c) => `+${c}`).join(' '));
    }
  } catch (err) {
    for (const d of created.reverse()) {
      try {
        cfs.rmdir(d);
      } catch {
        /* best effort: the original error matters */
      }
    }
    throw err;
  }
  return created;
}

// ---- hugetlb availability --------------------------------------------------------------------------

/**
 * Whether the hugetlb controller can be used for a container's cgroup on this host; undefined when it
 * can, else the error to give for `/linux/resources/hugepageLimits`. On a hybrid host (this machine)
 * hugetlb lives only in the cgroup2 mount; using it would mean enabling it in the caller's own cgroup
 * (there the unified root), which podkit never writes.
 */
export function hugetlbAvailable(layout: CgroupLayout, cfs: CgroupFs = realCgroupFs): PodkitError | undefined {
  const notHere = (why: string) => invalidField('/linux/resources/hugepageLimits', `controller not available here: ${why}`);
  if (layout.mode === 'v1') {
    return layout.v1.some((h) => h.controllers.includes('hugetlb')) ? undefined : notHere('no cgroup v1 hugetlb hierarchy is mounted');
  }
  if (layout.mode === 'hybrid' && layout.v1.some((h) => h.controllers.includes('hugetlb'))) return undefined;
  const ownDir = path.join(layout.unified.mountpoint, layout.unified.own);
  let delegated: string[];
  try {
    delegated = words(cfs.read(ownDir, 'cgroup.subtree_control'));
  } catch {
    delegated = [];
  }
  if (delegated.includes('hugetlb')) return undefined;
  return notHere(
    `hugetlb is ${layout.mode === 'hybrid' ? 'only in the cgroup2 mount ' + layout.unified.mountpoint + ' and ' : ''}not enabled in ${path.join(ownDir, 'cgroup.subtree_control')} (this process's own cgroup, which podkit does not write)`,
  );
}

// ---- resources -------------------------------------------------------------------------------------

const R = '/linux/resources';

/** JSON pointer escaping of one path segment. */
const seg = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** runc's conversion of cpu.shares (2..262144) to cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** runc's conversion of a blkio weight (10..1000) to an io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * runc's conversion of the spec's memory.swap (memory+swap, as on v1) to memory.swap.max (swap
 * only). Returns undefined for "leave alone", "max" or a byte count.
 */
export function swapToV2(swap: number | undefined, limit: number | undefined): string | undefined {
  const mem = limit ?? 0;
  if (swap === undefined || swap === 0) return mem === -1 ? 'max' : undefined;
  if (swap === -1) return 'max';
  if (swap < -1) throw invalidField(`${R}/memory/swap`, `must be -1 (unlimited) or a byte count, got ${swap}`);
  if (mem === 0 || mem === -1) throw invalidField(`${R}/memory/swap`, 'a swap limit needs a memory limit (/linux/resources/memory/limit)');
  if (swap < mem) throw invalidField(`${R}/memory/swap`, `is memory+swap and must be >= memory/limit (${mem}), got ${swap}`);
  return String(swap - mem);
}

function memBytes(field: string, v: number | undefined): string | undefined {
  if (v === undefined || v === 0) return undefined;
  if (v === -1) return 'max';
  if (v < 0) throw invalidField(field, `must be -1 (unlimited) or a positive byte count, got ${v}`);
  return String(v);
}

type Write = [file: string, value: string];

function rejectField(field: string, reason: string): never {
  throw invalidField(field, reason);
}

/**
 * The writes a resources block means on cgroup v2, in order, after validating every field (pure:
 * only `has(file)` asks the cgroup which optional files exist). Every value v2 cannot express is an
 * InvalidArgument naming its field.
 */
export function planResourcesV2(r: LinuxResources, has: (file: string) => boolean, controllers?: readonly string[]): Write[] {
  const out: Write[] = [];
  // Device rules become an eBPF program (applyResourcesV2), not file writes; checked here.
  if (r.devices) deviceRules(r.devices);
  if (r.network && (r.network.classID !== undefined || r.network.priorities?.length)) rejectField(`${R}/network`, 'net_cls/net_prio do not exist on cgroup v2');
  const m = r.memory;
  if (m) {
    // memory.kernel: ignored with a warning (backend.ts resourceWarnings), as runc does.
    if (m.kernelTCP !== undefined) rejectField(`${R}/memory/kernelTCP`, 'kernel TCP memory limits do not exist on cgroup v2');
    if (m.swappiness !== undefined) rejectField(`${R}/memory/swappiness`, 'cgroup v2 has no per-cgroup swappiness');
    if (m.disableOOMKiller) rejectField(`${R}/memory/disableOOMKiller`, 'cgroup v2 cannot disable the OOM killer');
    if (m.useHierarchy === false) rejectField(`${R}/memory/useHierarchy`, 'cgroup v2 is always hierarchical');
    const low = memBytes(`${R}/memory/reservation`, m.reservation);
    const max = memBytes(`${R}/memory/limit`, m.limit);
    const swap = swapToV2(m.swap, m.limit);
    if (swap !== undefined && !has('memory.swap.max')) {
      if (swap !== '0' && swap !== 'max') rejectField(`${R}/memory/swap`, 'this kernel has no swap accounting (memory.swap.max)');
    } else if (swap !== undefined) {
      // runc writes swap before the memory limit so that lowering both never passes through a state the kernel refuses.
      out.push(['memory.swap.max', swap]);
    }
    if (max !== undefined) out.push(['memory.max', max]);
    if (low !== undefined) out.push(['memory.low', low]);
  }
  const c = r.cpu;
  if (c) {
    if (c.realtimeRuntime !== undefined) rejectField(`${R}/cpu/realtimeRuntime`, 'cgroup v2 has no realtime cpu groups');
    if (c.realtimePeriod !== undefined) rejectField(`${R}/cpu/realtimePeriod`, 'cgroup v2 has no realtime cpu groups');
    if (c.shares !== undefined && c.shares !== 0) {
      if (c.shares < 2 || c.shares > 262144) rejectField(`${R}/cpu/shares`, `must be within 2..262144, got ${c.shares}`);
      out.push(['cpu.weight', String(sharesToWeight(c.shares))]);
    }
    if (c.period !== undefined && c.period !== 0 && (c.period < 1000 || c.period > 1_000_000)) rejectField(`${R}/cpu/period`, `must be within 1000..1000000 µs, got ${c.period}`);
    if (c.quota !== undefined && c.quota !== 0 && c.quota !== -1 && c.quota < 1000) rejectField(`${R}/cpu/quota`, `must be -1 (unlimited) or at least 1000 µs, got ${c.quota}`);
    if ((c.quota ?? 0) !== 0 || (c.period ?? 0) !== 0) {
      let v = c.quota !== undefined && c.quota > 0 ? String(c.quota) : 'max';
      if (c.period) v += ` ${c.period}`;
      out.push(['cpu.max', v]);
    }
    if (c.burst !== undefined) {
      if (!has('cpu.max.burst')) rejectField(`${R}/cpu/burst`, 'this kernel has no cpu.max.burst');
      out.push(['cpu.max.burst', String(c.burst)]);
    }
    if (c.idle !== undefined) {
      if (c.idle !== 0 && c.idle !== 1) rejectField(`${R}/cpu/idle`, `must be 0 or 1, got ${c.idle}`);
      if (!has('cpu.idle')) rejectField(`${R}/cpu/idle`, 'this kernel has no cpu.idle');
      out.push(['cpu.idle', String(c.idle)]);
    }
    if (c.cpus) out.push(['cpuset.cpus', c.cpus]);
    if (c.mems) out.push(['cpuset.mems', c.mems]);
  }
  if (r.pids) out.push(['pids.max', r.pids.limit > 0 ? String(r.pids.limit) : 'max']);
  const b = r.blockIO;
  if (b) {
    if (b.leafWeight !== undefined) rejectField(`${R}/blockIO/leafWeight`, 'cgroup v2 has no leaf weights');
    const checkWeight = (field: string, w: number) => {
      if (w < 10 || w > 1000) rejectField(field, `must be within 10..1000, got ${w}`);
    };
    // BFQ's io.bfq.weight (1..1000, the blkio scale) where a device uses BFQ, else io.weight
    // (1..10000) with runc's conversion.
    const bfq = has('io.bfq.weight');
    if (b.weight !== undefined && b.weight !== 0) {
      checkWeight(`${R}/blockIO/weight`, b.weight);
      out.push(bfq ? ['io.bfq.weight', String(b.weight)] : ['io.weight', `default ${blkioToIoWeight(b.weight)}`]);
    }
    (b.weightDevice ?? []).forEach((d, i) => {
      const f = `${R}/blockIO/weightDevice/${i}`;
      if (d.leafWeight !== undefined) rejectField(`${f}/leafWeight`, 'cgroup v2 has no leaf weights');
      if (d.weight === undefined) rejectField(`${f}/weight`, 'is required on cgroup v2');
      checkWeight(`${f}/weight`, d.weight);
      out.push(bfq ? ['io.bfq.weight', `${d.major}:${d.minor} ${d.weight}`] : ['io.weight', `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`]);
    });
    const throttles = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ] as const;
    for (const [field, key] of throttles) {
      for (const t of b[field] ?? []) out.push(['io.max', `${t.major}:${t.minor} ${key}=${t.rate === 0 ? 'max' : t.rate}`]);
    }
  }
  (r.hugepageLimits ?? []).forEach((h, i) => {
    if (!/^\d+[KMG]B$/.test(h.pageSize)) rejectField(`${R}/hugepageLimits/${i}/pageSize`, `must look like "2MB" or "1GB", got "${h.pageSize}"`);
    const file = `hugetlb.${h.pageSize}.max`;
    if (!has(file)) rejectField(`${R}/hugepageLimits/${i}/pageSize`, `this kernel has no ${h.pageSize} huge pages (${file})`);
    out.push([file, String(h.limit)]);
  });
  for (const [dev, l] of Object.entries(r.rdma ?? {})) out.push(['rdma.max', rdmaLine(dev, l, `${R}/rdma/${seg(dev)}`)]);
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const f = `${R}/unified/${seg(key)}`;
    if (key === '' || key.includes('/') || key.includes('..')) rejectField(f, 'must be the name of a file of the cgroup (no "/" or "..")');
    // As runc: CONTROLLER.PARAMETER, of a controller enabled in this cgroup (or a core "cgroup." file).
    const dot = key.indexOf('.');
    if (dot <= 0 || dot === key.length - 1) rejectField(f, 'must be a cgroup file name of the form CONTROLLER.PARAMETER');
    const controller = key.slice(0, dot);
    if (controller === 'cgroup' && UNIFIED_MANAGED.includes(key)) rejectField(f, `${key} is managed by the runtime (membership and delegation), not a resource setting`);
    if (controller !== 'cgroup' && controllers !== undefined && !controllers.includes(controller)) {
      rejectField(f, `controller "${controller}" is not available in this cgroup (cgroup.controllers: ${controllers.join(' ') || 'none'})`);
    }
    if (!has(key)) rejectField(f, `the cgroup has no file ${key}`);
    out.push([key, value]);
  }
  return out;
}

/** Core files a `unified` key may not write: they move processes or delegate controllers. */
const UNIFIED_MANAGED = ['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'cgroup.kill', 'cgroup.type'];

/**
 * Writes a resources block into the container's (newly created) cgroup. `checkBeforeUpdate` is
 * honoured: a memory limit below the current usage is refused.
 */
export function applyResourcesV2(dir: string, r: LinuxResources | undefined, cfs: CgroupFs = realCgroupFs): void {
  if (!r) return;
  let controllers: string[] | undefined;
  try {
    controllers = words(cfs.read(dir, 'cgroup.controllers'));
  } catch {
    controllers = undefined;
  }
  const plan = planResourcesV2(r, (file) => cfs.exists(dir, file), controllers);
  // The device rules are checked (and the program generated) before anything is written.
  const program = r.devices ? deviceFilter(r.devices) : undefined;
  if (r.memory?.checkBeforeUpdate && r.memory.limit !== undefined && r.memory.limit > 0) {
    const current = Number(cfs.read(dir, 'memory.current').trim());
    if (r.memory.limit < current) throw invalidField(`${R}/memory/limit`, `${r.memory.limit} is below the current usage ${current} (checkBeforeUpdate)`);
  }
  for (const [file, value] of plan) write(cfs, dir, file, value);
  if (program) {
    try {
      cfs.setDeviceFilter(dir, program);
    } catch (err) {
      throw toPodkitError(err, `${R}/devices: cannot install the eBPF device program in ${dir}`);
    }
  }
}

// ---- freezer ---------------------------------------------------------------------------------------

/** Whether the cgroup is frozen, from cgroup.events. */
export function isFrozenV2(dir: string, cfs: CgroupFs = realCgroupFs): boolean {
  return /^frozen 1$/m.test(cfs.read(dir, 'cgroup.events'));
}

/** Freezes or thaws the cgroup and polls cgroup.events until the kernel reports it, with a deadline. */
export async function setFrozenV2(dir: string, frozen: boolean, timeoutMs = 5000, cfs: CgroupFs = realCgroupFs): Promise<void> {
  write(cfs, dir, 'cgroup.freeze', frozen ? '1' : '0');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (isFrozenV2(dir, cfs) === frozen) return;
    if (Date.now() > deadline) throw new DeadlineExceededError(`cgroup ${dir}: not ${frozen ? 'frozen' : 'thawed'} within ${timeoutMs} ms (cgroup.events)`);
    await new Promise((res) => setTimeout(res, 1));
  }
}

// ---- stats -----------------------------------------------------------------------------------------

export interface StatsV2 {
  memory: { usage: number; limit: number | 'max'; workingSet: number; oomEvents: number; oomKills: number; stat: Record<string, number> };
  /** Nanoseconds, as runc reports them. */
  cpu: { usage: number; user: number; system: number; throttling: { periods: number; throttledPeriods: number; throttledTime: number } };
  pids: { current: number; limit: number | 'max' };
}

function keyed(cfs: CgroupFs, dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  let text = '';
  try {
    text = cfs.read(dir, file);
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

function single(cfs: CgroupFs, dir: string, file: string): number | 'max' | undefined {
  try {
    const v = cfs.read(dir, file).trim();
    if (v === 'max') return 'max';
    const n = Number(v);
    return v !== '' && Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Usage of the container's cgroup: memory (working set = usage - inactive_file), OOMs, cpu, pids. */
export function statsV2(dir: string, cfs: CgroupFs = realCgroupFs): StatsV2 {
  const stat = keyed(cfs, dir, 'memory.stat');
  const events = keyed(cfs, dir, 'memory.events');
  const cpu = keyed(cfs, dir, 'cpu.stat');
  const current = single(cfs, dir, 'memory.current');
  const usage = typeof current === 'number' ? current : 0;
  const inactive = stat['inactive_file'] ?? 0;
  const pids = single(cfs, dir, 'pids.current');
  return {
    memory: {
      usage,
      limit: single(cfs, dir, 'memory.max') ?? 'max',
      workingSet: usage > inactive ? usage - inactive : 0,
      oomEvents: events['oom'] ?? 0,
      oomKills: events['oom_kill'] ?? 0,
      stat,
    },
    cpu: {
      usage: (cpu['usage_usec'] ?? 0) * 1000,
      user: (cpu['user_usec'] ?? 0) * 1000,
      system: (cpu['system_usec'] ?? 0) * 1000,
      throttling: { periods: cpu['nr_periods'] ?? 0, throttledPeriods: cpu['nr_throttled'] ?? 0, throttledTime: (cpu['throttled_usec'] ?? 0) * 1000 },
    },
    pids: { current: typeof pids === 'number' ? pids : 0, limit: single(cfs, dir, 'pids.max') ?? 'max' },
  };
}

/**
 * Go's math.MaxUint64 ("max") as near as a JS number gets without exceeding it: the largest double
 * below 2^64 (2^64 itself would print as 18446744073709552000, which a Go uint64 field rejects).
 */
const MAX_U64 = 2 ** 64 - 2048;

/**
 * The same data in runc 1.1's `events --stats` shape (types.Stats, as its v2 backend fills it): cpu
 * from cpu.stat, memory (cache = file, swap counted with memory as v1's memsw), pids, blkio from
 * io.stat; the cpuset and kernel memory fields v2 has no data for are zero, as runc prints them.
 */
export function runcStatsV2(dir: string, cfs: CgroupFs = realCgroupFs, hugePageSizes: string[] = []): Record<string, unknown> {
  const cpu = keyed(cfs, dir, 'cpu.stat');
  const raw = keyed(cfs, dir, 'memory.stat');
  const num = (file: string) => {
    const v = single(cfs, dir, file);
    return v === 'max' ? MAX_U64 : (v ?? 0);
  };
  const usage = num('memory.current');
  const limit = num('memory.max');
  const swapUsage = num('memory.swap.current');
  const swapLimit = cfs.exists(dir, 'memory.swap.max') ? num('memory.swap.max') : 0;
  let io: Blkio = {};
  try {
    io = parseIoStatV2(cfs.read(dir, 'io.stat'));
  } catch {
    /* no io controller: no blkio data */
  }
  const hugetlb: Record<string, Record<string, number>> = {};
  for (const size of hugePageSizes) {
    if (!cfs.exists(dir, `hugetlb.${size}.current`)) continue;
    hugetlb[size] = omitEmpty({ usage: num(`hugetlb.${size}.current`), failcnt: keyed(cfs, dir, `hugetlb.${size}.events`)['max'] ?? 0 }, ['usage']) as Record<string, number>;
  }
  const pidsLimit = single(cfs, dir, 'pids.max');
  return {
    cpu: {
      usage: omitEmpty({ total: (cpu['usage_usec'] ?? 0) * 1000, kernel: (cpu['system_usec'] ?? 0) * 1000, user: (cpu['user_usec'] ?? 0) * 1000 }, ['total']),
      throttling: omitEmpty(
        { periods: cpu['nr_periods'] ?? 0, throttledPeriods: cpu['nr_throttled'] ?? 0, throttledTime: (cpu['throttled_usec'] ?? 0) * 1000 },
        ['periods', 'throttledPeriods', 'throttledTime'],
      ),
    },
    cpuset: {
      cpu_exclusive: 0,
      mem_hardwall: 0,
      mem_exclusive: 0,
      memory_migrate: 0,
      memory_spread_page: 0,
      memory_spread_slab: 0,
      memory_pressure: 0,
      sched_load_balance: 0,
      sched_relax_domain_level: 0,
    },
    memory: omitEmpty(
      {
        cache: raw['file'] ?? 0,
        usage: memoryEntry(limit, usage, 0, 0),
        // runc 1.1 reports v2 swap as v1's memsw: swap plus memory.
        swap: memoryEntry(swapLimit === MAX_U64 || limit === MAX_U64 ? MAX_U64 : swapLimit + limit, swapUsage + usage, 0, 0),
        kernel: memoryEntry(0, 0, 0, 0),
        kernelTCP: memoryEntry(0, 0, 0, 0),
        raw: sortedKeys(raw),
      },
      ['cache', 'raw'],
    ),
    pids: omitEmpty({ current: num('pids.current'), limit: typeof pidsLimit === 'number' ? pidsLimit : 0 }, ['current', 'limit']),
    blkio: io,
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}

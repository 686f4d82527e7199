/**
 * Test support: a fake cgroup v2 tree in a temporary directory, with the files a kernel would show,
 * and a `CgroupFs` over it that behaves like cgroupfs where it matters for the v2 backend: `mkdir`
 * populates the new cgroup's files from the parent's `cgroup.subtree_control`, writing a file that
 * does not exist fails with ENOENT, `+x` in `cgroup.subtree_control` fails unless `x` is in
 * `cgroup.controllers`, and `cgroup.freeze` is reflected in `cgroup.events` (optionally only after a
 * number of reads, or never, to exercise the polling and its deadline).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { realCgroupFs, type CgroupFs } from './v2';

export const ALL_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma'] as const;

/** The files of one cgroup per controller (core files are always there), with a kernel's defaults. */
const CONTROLLER_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.max': 'max',
    'memory.low': '0',
    'memory.high': 'max',
    'memory.swap.max': 'max',
    'memory.current': '0',
    'memory.stat': 'anon 0\nfile 0\nactive_file 0\ninactive_file 0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  },
  cpu: { 'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.max.burst': '0', 'cpu.idle': '0' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.cpus.effective': '0-3', 'cpuset.mems.effective': '0' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  io: { 'io.weight': 'default 100', 'io.max': '' },
  hugetlb: { 'hugetlb.2MB.max': 'max', 'hugetlb.1GB.max': 'max', 'hugetlb.2MB.current': '0', 'hugetlb.1GB.current': '0' },
  rdma: { 'rdma.max': '', 'rdma.current': '' },
};

/** cpu.stat exists in every cgroup (usage is core accounting), as do these. */
const CORE_FILES: Record<string, string> = {
  'cgroup.procs': '',
  'cgroup.subtree_control': '',
  'cgroup.freeze': '0',
  'cgroup.events': 'populated 0\nfrozen 0\n',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
};

export interface FakeTreeOptions {
  /** Controllers of the root's cgroup.controllers (default: all). */
  controllers?: readonly string[];
  /** The caller's own cgroup, relative to the root, created with `ownSubtree` enabled (default "/own"). */
  own?: string;
  /** Controllers already enabled in the own cgroup's subtree_control (default: all of `controllers`). */
  ownSubtree?: readonly string[];
  /** Reads of cgroup.events before a cgroup.freeze write shows (default 0); Infinity: never. */
  freezeLagReads?: number;
}

export interface FakeTree {
  root: string;
  /** Absolute path of the own cgroup. */
  ownDir: string;
  fs: CgroupFs;
  /** Every write through `fs`, as [file relative to root, value]. */
  writes: Array<[string, string]>;
  /** The device program each cgroup (relative to root) got through `fs.setDeviceFilter`. */
  devicePrograms: Map<string, Buffer>;
  /** Sets a file's content as the kernel would (stats, events). */
  setFile(dir: string, file: string, content: string): void;
  cleanup(): void;
}

function populate(dir: string, controllers: readonly string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'cgroup.controllers'), controllers.join(' '));
  for (const [f, v] of Object.entries(CORE_FILES)) fs.writeFileSync(path.join(dir, f), v);
  for (const c of controllers) for (const [f, v] of Object.entries(CONTROLLER_FILES[c] ?? {})) fs.writeFileSync(path.join(dir, f), v);
}

function words(s: string): string[] {
  return s.split(/\s+/).filter(Boolean);
}

export function makeFakeTree(opts: FakeTreeOptions = {}): FakeTree {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-cg2-'));
  const controllers = opts.controllers ?? ALL_CONTROLLERS;
  const ownRel = opts.own ?? '/own';
  const ownSubtree = opts.ownSubtree ?? controllers;
  // Root and each level down to the own cgroup pass everything on; the own cgroup enables `ownSubtree`.
  populate(root, controllers);
  let dir = root;
  for (const part of ownRel.split('/').filter(Boolean)) {
    fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), controllers.join(' '));
    dir = path.join(dir, part);
    populate(dir, controllers);
  }
  const ownDir = dir;
  fs.writeFileSync(path.join(ownDir, 'cgroup.subtree_control'), ownSubtree.join(' '));

  const writes: Array<[string, string]> = [];
  const devicePrograms = new Map<string, Buffer>();
  const pendingFreeze = new Map<string, { value: string; reads: number }>();
  const lag = opts.freezeLagReads ?? 0;
  const fail = (code: string, msg: string) => Object.assign(new Error(`${code}: ${msg}`), { code });
  const setEventsFrozen = (d: string, value: string) => {
    const file = path.join(d, 'cgroup.events');
    const text = fs.readFileSync(file, 'utf8').replace(/^frozen \d$/m, `frozen ${value}`);
    fs.writeFileSync(file, text);
  };

  const fake: CgroupFs = {
    mkdir(d) {
      fs.mkdirSync(d);
      populate(d, words(fs.readFileSync(path.join(path.dirname(d), 'cgroup.subtree_control'), 'utf8')));
    },
    rmdir(d) {
      fs.rmSync(d, { recursive: true });
    },
    exists: realCgroupFs.exists,
    read(d, file) {
      const p = pendingFreeze.get(d);
      if (file === 'cgroup.events' && p) {
        if (p.reads >= lag) {
          setEventsFrozen(d, p.value);
          pendingFreeze.delete(d);
        } else p.reads++;
      }
      return realCgroupFs.read(d, file);
    },
    write(d, file, value) {
      const rel = path.relative(root, path.join(d, file));
      if (file === 'cgroup.subtree_control') {
        const available = words(fs.readFileSync(path.join(d, 'cgroup.controllers'), 'utf8'));
        const enabled = new Set(words(fs.readFileSync(path.join(d, file), 'utf8')));
        for (const w of words(value)) {
          const name = w.slice(1);
          if (!available.includes(name)) throw fail('ENOENT', `write ${rel}: controller ${name} not available`);
          if (w.startsWith('+')) enabled.add(name);
          else if (w.startsWith('-')) enabled.delete(name);
          else throw fail('EINVAL', `write ${rel}: ${w}`);
        }
        writes.push([rel, value]);
        fs.writeFileSync(path.join(d, file), [...enabled].join(' '));
        return;
      }
      realCgroupFs.write(d, file, value);
      writes.push([rel, value]);
      if (file === 'cgroup.freeze') pendingFreeze.set(d, { value: value.trim(), reads: 0 });
    },
    setDeviceFilter(d, program) {
      if (!fs.existsSync(path.join(d, 'cgroup.procs'))) throw fail('ENOENT', `open cgroup ${path.relative(root, d)}`);
      devicePrograms.set(path.relative(root, d), program);
    },
  };
  return {
    root,
    ownDir,
    fs: fake,
    writes,
    devicePrograms,
    setFile: (d, file, content) => fs.writeFileSync(path.join(d, file), content),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

// ---- cgroup v1 ---------------------------------------------------------------------------------------

/**
 * The files of a v1 cgroup per controller, with a kernel's defaults (what this machine's 6.18 kernel
 * shows, plus the controllers it does not mount: net_cls, net_prio, hugetlb, rdma).
 */
export const V1_CONTROLLER_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712',
    'memory.soft_limit_in_bytes': '9223372036854771712',
    'memory.memsw.limit_in_bytes': '9223372036854771712',
    'memory.usage_in_bytes': '0',
    'memory.kmem.limit_in_bytes': '9223372036854771712',
    'memory.kmem.tcp.limit_in_bytes': '9223372036854771712',
    'memory.swappiness': '60',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.use_hierarchy': '1',
  },
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.cfs_burst_us': '0',
    'cpu.idle': '0',
    'cpu.rt_period_us': '1000000',
    'cpu.rt_runtime_us': '0',
  },
  cpuset: { 'cpuset.cpus': '0-1', 'cpuset.mems': '0' },
  pids: { 'pids.max': 'max' },
  devices: { 'devices.allow': '', 'devices.deny': '' },
  blkio: {
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
  },
  net_cls: { 'net_cls.classid': '0' },
  net_prio: { 'net_prio.ifpriomap': 'lo 0\n', 'net_prio.prioidx': '1' },
  hugetlb: { 'hugetlb.2MB.limit_in_bytes': '9223372036854771712', 'hugetlb.2MB.rsvd.limit_in_bytes': '9223372036854771712', 'hugetlb.1GB.limit_in_bytes': '9223372036854771712' },
  rdma: { 'rdma.max': '', 'rdma.current': '' },
};

export interface FakeV1Tree {
  root: string;
  /** The container's cgroup per hierarchy name, as v1.cgroupPaths gives it. */
  paths: Record<string, string>;
  /** The content of a file of the container's cgroup of hierarchy `name`. */
  read(name: string, file: string): string;
  cleanup(): void;
}

/**
 * A fake v1 cgroupfs: one folder per hierarchy (`name` may join controllers, "net_cls,net_prio"),
 * each with the container's cgroup `<root>/<name>/own/c1` holding the controllers' files (unless
 * `omit` lists them) and its parent `own` holding the same files.
 */
export function makeFakeV1Tree(names: readonly string[], opts: { omit?: readonly string[]; extra?: Record<string, string> } = {}): FakeV1Tree {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-cg1-'));
  const paths: Record<string, string> = {};
  for (const name of names) {
    for (const rel of ['own', 'own/c1']) {
      const dir = path.join(root, name, rel);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), '');
      for (const c of name.split(',')) {
        for (const [f, v] of Object.entries({ ...V1_CONTROLLER_FILES[c] })) if (!opts.omit?.includes(f)) fs.writeFileSync(path.join(dir, f), v);
      }
      for (const [f, v] of Object.entries(opts.extra ?? {})) if (name.split(',').includes(f.split('.')[0] as string)) fs.writeFileSync(path.join(dir, f), v);
    }
    paths[name] = path.join(root, name, 'own', 'c1');
  }
  return {
    root,
    paths,
    read: (name, file) => fs.readFileSync(path.join(paths[name] as string, file), 'utf8'),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeadlineExceeded, isFailedPrecondition, isInvalidArgument } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { deviceFilter } from './devicefilter';
import { makeFakeTree, type FakeTree } from './fake-tree';
import {
  applyResourcesV2,
  blkioToIoWeight,
  cgroupPathV2,
  createCgroupV2,
  detectLayout,
  hostLayout,
  hugetlbAvailable,
  isFrozenV2,
  planResourcesV2,
  realCgroupFs,
  requiredControllers,
  setFrozenV2,
  sharesToWeight,
  statsV2,
  swapToV2,
} from './index';

// This machine's real /proc/self/mountinfo (cgroup lines plus neighbours) and /proc/self/cgroup.
const HYBRID_MOUNTINFO = `23 1 0:21 / / rw,relatime - overlay overlay rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/469894d146233b60df7d4191410ce77d
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;
// A systemd host on pure cgroup v2.
const V2_MOUNTINFO = `22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V2_CGROUP = '0::/user.slice/user-1000.slice/session-2.scope\n';

describe('cgroup layout detection', () => {
  it('sees this machine as hybrid: v1 controllers plus a cgroup2 mount', () => {
    const l = detectLayout(HYBRID_MOUNTINFO, HYBRID_CGROUP);
    expect(l.mode).toBe('hybrid');
    if (l.mode !== 'hybrid') return;
    expect(l.unified).toEqual({ mountpoint: '/sys/fs/cgroup/unified', own: '/' });
    expect(l.v1.map((h) => h.controllers.join(','))).toEqual(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd']);
    expect(l.v1.find((h) => h.controllers[0] === 'memory')).toEqual({ mountpoint: '/sys/fs/cgroup/memory', controllers: ['memory'], own: '/process_api/469894d146233b60df7d4191410ce77d' });
  });

  it('sees a pure cgroup2 host as v2, with the own cgroup from 0::', () => {
    expect(detectLayout(V2_MOUNTINFO, V2_CGROUP)).toEqual({ mode: 'v2', unified: { mountpoint: '/sys/fs/cgroup', own: '/user.slice/user-1000.slice/session-2.scope' } });
  });

  it('sees v1 without a cgroup2 mount as v1, and fails clearly without any cgroup mount', () => {
    const mi = HYBRID_MOUNTINFO.split('\n').filter((l) => !l.includes('cgroup2')).join('\n');
    expect(detectLayout(mi, HYBRID_CGROUP).mode).toBe('v1');
    expect(() => detectLayout('23 1 0:21 / / rw - overlay overlay rw\n', '0::/\n')).toThrow(/neither a cgroup v1 hierarchy nor a cgroup2 mount/);
  });

  it('makes the own path relative to a mount whose root is not the hierarchy root (cgroup namespace bind)', () => {
    const mi = '40 30 0:30 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
    expect(detectLayout(mi, '0::/kubepods/pod1/c1\n')).toEqual({ mode: 'v2', unified: { mountpoint: '/sys/fs/cgroup', own: '/c1' } });
  });

  it('agrees with the real files of this machine on the mode and the unified own cgroup', () => {
    const l = hostLayout();
    const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (l.mode !== 'v1') expect(l.unified.own).toBe(own);
    expect(['v1', 'v2', 'hybrid']).toContain(l.mode);
  });
});

describe('cgroup v2 paths', () => {
  const u = { mountpoint: '/sys/fs/cgroup', own: '/user.slice/me' };
  it('puts relative paths (and the default, the id) beneath the own cgroup; absolute ones from the mount', () => {
    expect(cgroupPathV2('pod/c1', 'c1', u)).toBe('/sys/fs/cgroup/user.slice/me/pod/c1');
    expect(cgroupPathV2(undefined, 'c1', u)).toBe('/sys/fs/cgroup/user.slice/me/c1');
    expect(cgroupPathV2('/user.slice/me/x/c1', 'c1', u)).toBe('/sys/fs/cgroup/user.slice/me/x/c1');
  });

  it('refuses anything at or above the own cgroup, siblings, escapes and systemd slices', () => {
    for (const bad of ['/user.slice/me', '/user.slice', '/user.slice/meme/c1', '/', '//', '.', './', 'a/../..', 'a/..', 'x.slice:p:c1']) {
      expect(() => cgroupPathV2(bad, 'c1', u)).toThrow(/^\/linux\/cgroupsPath: /);
    }
  });
});

describe('cgroup v2 backend on a fake tree', () => {
  let tree: FakeTree;
  afterEach(() => tree?.cleanup());

  it('creates missing levels and enables controllers only in cgroups it created', () => {
    tree = makeFakeTree({ ownSubtree: ['memory', 'pids', 'cpu'] });
    const leaf = path.join(tree.ownDir, 'pod', 'c1');
    const created = createCgroupV2(leaf, tree.ownDir, ['memory', 'pids'], tree.fs);
    expect(created).toEqual([path.join(tree.ownDir, 'pod'), leaf]);
    expect(tree.writes).toEqual([['own/pod/cgroup.subtree_control', '+memory +pids']]);
    expect(fs.readFileSync(path.join(leaf, 'cgroup.controllers'), 'utf8')).toBe('memory pids');
    expect(fs.existsSync(path.join(leaf, 'memory.max'))).toBe(true);
    expect(fs.existsSync(path.join(leaf, 'cpu.weight'))).toBe(false);
  });

  it('refuses controllers the own cgroup does not delegate, without writing or creating anything', () => {
    tree = makeFakeTree({ ownSubtree: ['memory'] });
    const leaf = path.join(tree.ownDir, 'c1');
    expect(() => createCgroupV2(leaf, tree.ownDir, ['memory', 'hugetlb'], tree.fs)).toThrow(/controller hugetlb not available here/);
    expect(tree.writes).toEqual([]);
    expect(fs.existsSync(leaf)).toBe(false);
    expect(() => createCgroupV2(tree.ownDir, tree.ownDir, [], tree.fs)).toThrow(/not beneath/);
  });

  it('writes the runc conversions of memory, cpu, pids, io, hugetlb, rdma and unified', () => {
    tree = makeFakeTree();
    const leaf = path.join(tree.ownDir, 'c1');
    const r: LinuxResources = {
      memory: { limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20 },
      cpu: { shares: 1024, quota: 50000, period: 100000, burst: 10000, idle: 0, cpus: '0-1', mems: '0' },
      pids: { limit: 64 },
      blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 1000 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 0 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 4 << 21 }],
      rdma: { mlx5_1: { hcaHandles: 3 } },
      unified: { 'memory.high': '200000000' },
    };
    createCgroupV2(leaf, tree.ownDir, requiredControllers(r), tree.fs);
    tree.writes.length = 0;
    applyResourcesV2(leaf, r, tree.fs);
    const read = (f: string) => fs.readFileSync(path.join(leaf, f), 'utf8');
    expect(tree.writes.map(([f, v]) => [path.basename(f), v])).toEqual([
      ['memory.swap.max', String(256 << 20)],
      ['memory.max', String(256 << 20)],
      ['memory.low', String(128 << 20)],
      ['cpu.weight', '39'],
      ['cpu.max', '50000 100000'],
      ['cpu.max.burst', '10000'],
      ['cpu.idle', '0'],
      ['cpuset.cpus', '0-1'],
      ['cpuset.mems', '0'],
      ['pids.max', '64'],
      ['io.weight', 'default 4950'],
      ['io.weight', '8:0 10000'],
      ['io.max', '8:0 rbps=1048576'],
      ['io.max', '8:0 wiops=max'],
      ['hugetlb.2MB.max', String(4 << 21)],
      ['rdma.max', 'mlx5_1 hca_handle=3'],
      ['memory.high', '200000000'],
    ]);
    expect(read('memory.max')).toBe(String(256 << 20));
    expect(read('cpu.max')).toBe('50000 100000');
  });

  it('converts like runc: shares to weight, blkio to io weight, memory+swap to swap only', () => {
    expect([2, 1024, 262144].map(sharesToWeight)).toEqual([1, 39, 10000]);
    expect([10, 500, 1000].map(blkioToIoWeight)).toEqual([1, 4950, 10000]);
    expect(swapToV2(300, 100)).toBe('200');
    expect(swapToV2(100, 100)).toBe('0');
    expect(swapToV2(-1, 100)).toBe('max');
    expect(swapToV2(undefined, -1)).toBe('max');
    expect(swapToV2(undefined, 100)).toBeUndefined();
    expect(() => swapToV2(50, 100)).toThrow(/^\/linux\/resources\/memory\/swap: .*>= memory\/limit/);
    expect(() => swapToV2(50, undefined)).toThrow(/^\/linux\/resources\/memory\/swap: a swap limit needs a memory limit/);
  });

  it('writes cpu.max "max <period>" for an unlimited quota and leaves unset fields alone', () => {
    const all = () => true;
    expect(planResourcesV2({ cpu: { quota: -1, period: 20000 } }, all)).toEqual([['cpu.max', 'max 20000']]);
    expect(planResourcesV2({ cpu: { quota: 30000 } }, all)).toEqual([['cpu.max', '30000']]);
    expect(planResourcesV2({ memory: { limit: -1 } }, all)).toEqual([
      ['memory.swap.max', 'max'],
      ['memory.max', 'max'],
    ]);
    expect(planResourcesV2({ pids: { limit: -1 } }, all)).toEqual([['pids.max', 'max']]);
    expect(planResourcesV2({}, all)).toEqual([]);
  });

  it('refuses every value cgroup v2 cannot express, naming the field', () => {
    const all = () => true;
    const cases: Array<[LinuxResources, string]> = [
      [{ network: { classID: 1 } }, '/linux/resources/network'],
      [{ memory: { kernelTCP: 1 << 20 } }, '/linux/resources/memory/kernelTCP'],
      [{ memory: { swappiness: 10 } }, '/linux/resources/memory/swappiness'],
      [{ memory: { disableOOMKiller: true } }, '/linux/resources/memory/disableOOMKiller'],
      [{ memory: { limit: -5 } }, '/linux/resources/memory/limit'],
      [{ cpu: { realtimeRuntime: 1000 } }, '/linux/resources/cpu/realtimeRuntime'],
      [{ cpu: { realtimePeriod: 1000 } }, '/linux/resources/cpu/realtimePeriod'],
      [{ cpu: { shares: 1 } }, '/linux/resources/cpu/shares'],
      [{ cpu: { quota: 10 } }, '/linux/resources/cpu/quota'],
      [{ cpu: { period: 10 } }, '/linux/resources/cpu/period'],
      [{ cpu: { idle: 2 } }, '/linux/resources/cpu/idle'],
      [{ blockIO: { leafWeight: 100 } }, '/linux/resources/blockIO/leafWeight'],
      [{ blockIO: { weight: 5 } }, '/linux/resources/blockIO/weight'],
      [{ blockIO: { weightDevice: [{ major: 8, minor: 0 }] } }, '/linux/resources/blockIO/weightDevice/0/weight'],
      [{ blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 100, leafWeight: 10 }] } }, '/linux/resources/blockIO/weightDevice/0/leafWeight'],
      [{ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }, '/linux/resources/hugepageLimits/0/pageSize'],
      [{ rdma: { 'a b': { hcaHandles: 1 } } }, '/linux/resources/rdma/a b'],
      [{ rdma: { mlx: {} } }, '/linux/resources/rdma/mlx'],
      [{ unified: { '../memory.max': '1' } }, '/linux/resources/unified/..~1memory.max'],
      [{ unified: { 'a/b': '1' } }, '/linux/resources/unified/a~1b'],
      [{ unified: { memory: '1' } }, '/linux/resources/unified/memory'],
      [{ unified: { 'cgroup.procs': '1' } }, '/linux/resources/unified/cgroup.procs'],
      [{ unified: { 'cgroup.subtree_control': '+cpu' } }, '/linux/resources/unified/cgroup.subtree_control'],
      [{ devices: [{ allow: true, type: 'c', access: 'rwx' }] }, '/linux/resources/devices/0/access'],
    ];
    for (const [r, field] of cases) {
      let err: unknown;
      try {
        planResourcesV2(r, all);
      } catch (e) {
        err = e;
      }
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it('refuses files the cgroup does not have: unknown unified keys, absent huge page sizes, burst/idle on old kernels', () => {
    tree = makeFakeTree({ ownSubtree: ['memory', 'cpu'] });
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, ['memory', 'cpu'], tree.fs);
    expect(() => applyResourcesV2(leaf, { unified: { 'memory.nonsense': '1' } }, tree.fs)).toThrow(/^\/linux\/resources\/unified\/memory\.nonsense: the cgroup has no file/);
    expect(() => applyResourcesV2(leaf, { unified: { 'pids.max': '1' } }, tree.fs)).toThrow(/^\/linux\/resources\/unified\/pids\.max: /);
    expect(() => applyResourcesV2(leaf, { hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, tree.fs)).toThrow(/^\/linux\/resources\/hugepageLimits\/0\/pageSize: this kernel has no 2MB/);
    fs.rmSync(path.join(leaf, 'cpu.max.burst'));
    expect(() => applyResourcesV2(leaf, { cpu: { burst: 1 } }, tree.fs)).toThrow(/^\/linux\/resources\/cpu\/burst: /);
    expect(tree.writes.filter(([f]) => f.startsWith('own/c1/'))).toEqual([]);
  });

  it('honours checkBeforeUpdate: a limit below memory.current is refused', () => {
    tree = makeFakeTree();
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, ['memory'], tree.fs);
    tree.setFile(leaf, 'memory.current', '5000000\n');
    expect(() => applyResourcesV2(leaf, { memory: { limit: 4096 * 1024, checkBeforeUpdate: true } }, tree.fs)).toThrow(/^\/linux\/resources\/memory\/limit: .*below the current usage 5000000/);
    applyResourcesV2(leaf, { memory: { limit: 8 << 20, checkBeforeUpdate: true } }, tree.fs);
    expect(fs.readFileSync(path.join(leaf, 'memory.max'), 'utf8')).toBe(String(8 << 20));
  });

  it('freezes and thaws through cgroup.freeze, polling cgroup.events until the kernel reports it', async () => {
    tree = makeFakeTree({ freezeLagReads: 3 });
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, [], tree.fs);
    await setFrozenV2(leaf, true, 5000, tree.fs);
    expect(isFrozenV2(leaf, tree.fs)).toBe(true);
    expect(fs.readFileSync(path.join(leaf, 'cgroup.freeze'), 'utf8')).toBe('1');
    await setFrozenV2(leaf, false, 5000, tree.fs);
    expect(isFrozenV2(leaf, tree.fs)).toBe(false);
  });

  it('gives DeadlineExceeded when the cgroup never reports frozen', async () => {
    tree = makeFakeTree({ freezeLagReads: Infinity });
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, [], tree.fs);
    const err = await setFrozenV2(leaf, true, 20, tree.fs).catch((e: unknown) => e);
    expect(isDeadlineExceeded(err)).toBe(true);
  });

  it('reads stats: memory usage, working set, OOM counts, cpu usage in ns, pids', () => {
    tree = makeFakeTree();
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, ['memory', 'cpu', 'pids'], tree.fs);
    tree.setFile(leaf, 'memory.current', '10485760\n');
    tree.setFile(leaf, 'memory.max', '20971520\n');
    tree.setFile(leaf, 'memory.stat', 'anon 6291456\nfile 4194304\nactive_file 1048576\ninactive_file 3145728\n');
    tree.setFile(leaf, 'memory.events', 'low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n');
    tree.setFile(leaf, 'cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n');
    tree.setFile(leaf, 'pids.current', '3\n');
    tree.setFile(leaf, 'pids.max', '64\n');
    const s = statsV2(leaf, tree.fs);
    expect(s.memory).toEqual(expect.objectContaining({ usage: 10485760, limit: 20971520, workingSet: 10485760 - 3145728, oomEvents: 2, oomKills: 1 }));
    expect(s.memory.stat['anon']).toBe(6291456);
    expect(s.cpu).toEqual({ usage: 1_500_000, user: 1_000_000, system: 500_000, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 20_000 } });
    expect(s.pids).toEqual({ current: 3, limit: 64 });
    tree.setFile(leaf, 'memory.stat', 'inactive_file 99999999\n');
    expect(statsV2(leaf, tree.fs).memory.workingSet).toBe(0);
  });
});

describe('realCgroupFs', () => {
  it('truncates existing control files and never creates a missing one (ENOENT), as on cgroupfs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-cgfs-'));
    try {
      fs.writeFileSync(path.join(dir, 'memory.max'), 'max');
      realCgroupFs.write(dir, 'memory.max', '1');
      expect(realCgroupFs.read(dir, 'memory.max')).toBe('1');
      expect(() => realCgroupFs.write(dir, 'memory.nope', '1')).toThrow(/ENOENT/);
      expect(fs.existsSync(path.join(dir, 'memory.nope'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hugetlb availability', () => {
  let tree: FakeTree | undefined;
  afterEach(() => tree?.cleanup());

  it('says "controller not available here" on this machine layout (hybrid, hugetlb only in cgroup2, own = root)', () => {
    tree = makeFakeTree({ controllers: ['hugetlb'], own: '/', ownSubtree: [] });
    const layout = detectLayout(HYBRID_MOUNTINFO.replace('/sys/fs/cgroup/unified', tree.root), HYBRID_CGROUP);
    const err = hugetlbAvailable(layout, tree.fs);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err?.message).toMatch(/^\/linux\/resources\/hugepageLimits: controller not available here: hugetlb is only in the cgroup2 mount/);
  });

  it('answers for the real host without writing anything (hybrid here: not available)', () => {
    const layout = hostLayout();
    const err = hugetlbAvailable(layout);
    if (layout.mode === 'hybrid' && !layout.v1.some((h) => h.controllers.includes('hugetlb'))) {
      const own = path.join(layout.unified.mountpoint, layout.unified.own, 'cgroup.subtree_control');
      if (!fs.readFileSync(own, 'utf8').includes('hugetlb')) expect(err?.message).toMatch(/controller not available here/);
    }
    if (err) expect(err.message).toMatch(/^\/linux\/resources\/hugepageLimits: controller not available here: /);
  });

  it('is available on v2 when the own cgroup delegates hugetlb, and on v1 with a hugetlb hierarchy', () => {
    tree = makeFakeTree({ own: '/user.slice/me' });
    expect(hugetlbAvailable({ mode: 'v2', unified: { mountpoint: tree.root, own: '/user.slice/me' } }, tree.fs)).toBeUndefined();
    expect(hugetlbAvailable({ mode: 'v1', v1: [{ mountpoint: '/x', controllers: ['hugetlb'], own: '/' }] })).toBeUndefined();
    expect(hugetlbAvailable({ mode: 'v1', v1: [{ mountpoint: '/x', controllers: ['memory'], own: '/' }] })?.message).toMatch(/controller not available here/);
  });

  it('refuses to create a cgroup needing a controller the own cgroup lacks (FailedPrecondition)', () => {
    tree = makeFakeTree({ ownSubtree: [] });
    let err: unknown;
    try {
      createCgroupV2(path.join(tree.ownDir, 'c1'), tree.ownDir, ['hugetlb'], tree.fs);
    } catch (e) {
      err = e;
    }
    expect(isFailedPrecondition(err)).toBe(true);
  });
});

describe('cgroup v2 devices, io weights, unified keys (fake tree)', () => {
  let tree: FakeTree;
  afterEach(() => tree?.cleanup());

  it('installs the eBPF device program generated from the rules, after the file writes', () => {
    tree = makeFakeTree();
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, ['pids'], tree.fs);
    const devices = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c' as const, major: 10, minor: 229, access: 'rw' },
    ];
    applyResourcesV2(leaf, { devices, pids: { limit: 9 } }, tree.fs);
    expect(tree.devicePrograms.get('own/c1')).toEqual(deviceFilter(devices));
    expect(fs.readFileSync(path.join(leaf, 'pids.max'), 'utf8')).toBe('9');
    // A bad rule is refused before anything is written or attached.
    tree.devicePrograms.clear();
    expect(() => applyResourcesV2(leaf, { devices: [{ allow: true, type: 'c', major: -7 }], pids: { limit: 3 } }, tree.fs)).toThrow(/^\/linux\/resources\/devices\/0\/major: /);
    expect(fs.readFileSync(path.join(leaf, 'pids.max'), 'utf8')).toBe('9');
    expect(tree.devicePrograms.size).toBe(0);
  });

  it('writes io.bfq.weight (the blkio scale) where BFQ is in use, else io.weight converted', () => {
    const b = { blockIO: { weight: 500, weightDevice: [{ major: 254, minor: 0, weight: 100 }] } };
    expect(planResourcesV2(b, (f) => f !== 'io.bfq.weight')).toEqual([
      ['io.weight', 'default 4950'],
      ['io.weight', '254:0 910'],
    ]);
    expect(planResourcesV2(b, () => true)).toEqual([
      ['io.bfq.weight', '500'],
      ['io.bfq.weight', '254:0 100'],
    ]);
  });

  it('takes unified keys only of controllers enabled in the cgroup, as runc', () => {
    tree = makeFakeTree({ ownSubtree: ['memory'] });
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, ['memory'], tree.fs);
    applyResourcesV2(leaf, { unified: { 'memory.high': '1000000', 'cgroup.freeze': '0' } }, tree.fs);
    expect(fs.readFileSync(path.join(leaf, 'memory.high'), 'utf8')).toBe('1000000');
    expect(() => applyResourcesV2(leaf, { unified: { 'pids.max': '5' } }, tree.fs)).toThrow(/^\/linux\/resources\/unified\/pids\.max: controller "pids" is not available in this cgroup \(cgroup.controllers: memory\)/);
    expect(() => applyResourcesV2(leaf, { unified: { 'memory.nope': '5' } }, tree.fs)).toThrow(/^\/linux\/resources\/unified\/memory\.nope: the cgroup has no file memory.nope/);
  });

  it('ignores memory.kernel (runc warns), refuses kernelTCP', () => {
    expect(planResourcesV2({ memory: { kernel: 1 << 20 } }, () => true)).toEqual([]);
    expect(() => planResourcesV2({ memory: { kernelTCP: 1 << 20 } }, () => true)).toThrow(/^\/linux\/resources\/memory\/kernelTCP: /);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInvalidArgument, isNotFound } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { makeFakeV1Tree, type FakeV1Tree } from './fake-tree';
import { applyResources, cgroupPaths, controllerDir, executeV1, stats, KERNEL_MEMORY_WARNING, planResourcesV1, v1Host, v1PrecheckHost, type Hierarchy } from './v1';
import { thrown } from '../test-support/errors';

const hs: Hierarchy[] = [
  { name: 'memory', controllers: ['memory'], mountpoint: '/sys/fs/cgroup/memory', own: '/process_api/abc' },
  { name: 'pids', controllers: ['pids'], mountpoint: '/sys/fs/cgroup/pids', own: '/' },
];

describe('cgroup v1 paths', () => {
  it('puts a relative cgroupsPath (and the default, the id) beneath the caller own cgroup', () => {
    expect(cgroupPaths('pod/c1', 'c1', hs)).toEqual({ memory: '/sys/fs/cgroup/memory/process_api/abc/pod/c1', pids: '/sys/fs/cgroup/pids/pod/c1' });
    expect(cgroupPaths(undefined, 'c1', hs)).toEqual({ memory: '/sys/fs/cgroup/memory/process_api/abc/c1', pids: '/sys/fs/cgroup/pids/c1' });
  });

  it('takes an absolute cgroupsPath from each hierarchy root, as runc, when it lies beneath the caller cgroup', () => {
    const flat = hs.map((h) => ({ ...h, own: '/' }));
    expect(cgroupPaths('/x/c1', 'c1', flat)).toEqual({ memory: '/sys/fs/cgroup/memory/x/c1', pids: '/sys/fs/cgroup/pids/x/c1' });
    expect(cgroupPaths('/process_api/abc/c1', 'c1', [hs[0]!])).toEqual({ memory: '/sys/fs/cgroup/memory/process_api/abc/c1' });
  });

  it('refuses an absolute cgroupsPath outside the caller cgroup (sibling, ancestor, the own cgroup)', () => {
    for (const bad of ['/x/c1', '/process_api', '/process_api/abc', '/process_api/abcdef/c1']) {
      expect(() => cgroupPaths(bad, 'c1', hs)).toThrow(/^\/linux\/cgroupsPath: .* not beneath this process's own cgroup/);
    }
  });

  it('refuses paths that would name the caller cgroup, a root, an escape or a systemd slice', () => {
    for (const bad of ['.', './', '/', '//', 'a/../..', 'a/..', 'system.slice:podkit:c1']) {
      expect(() => cgroupPaths(bad, 'c1', hs)).toThrow(/\/linux\/cgroupsPath/);
    }
  });
});

describe('cgroup v1 resources (fake v1 tree)', () => {
  let tree: FakeV1Tree;
  afterEach(() => tree?.cleanup());
  const ALL = ['memory', 'cpu,cpuacct', 'cpuset', 'pids', 'devices', 'blkio', 'net_cls,net_prio', 'hugetlb', 'rdma'];

  it('finds a controller in its own or a joint hierarchy', () => {
    const paths = { 'cpu,cpuacct': '/a', memory: '/m', 'net_cls,net_prio': '/n' };
    expect(controllerDir(paths, 'cpu')).toBe('/a');
    expect(controllerDir(paths, 'cpuacct')).toBe('/a');
    expect(controllerDir(paths, 'net_prio')).toBe('/n');
    expect(controllerDir(paths, 'memory')).toBe('/m');
    expect(controllerDir(paths, 'blkio')).toBeUndefined();
  });

  it('plans every field in runc\'s order, each write tagged with its field', () => {
    tree = makeFakeV1Tree(ALL, { extra: { 'blkio.weight': '500', 'blkio.weight_device': '', 'blkio.leaf_weight': '500', 'blkio.leaf_weight_device': '' } });
    const r: LinuxResources = {
      memory: { limit: 256 << 20, swap: 512 << 20, reservation: 128 << 20, kernel: 1 << 20, kernelTCP: 4 << 20, swappiness: 10, disableOOMKiller: true },
      cpu: { shares: 512, period: 50000, quota: 25000, burst: 1000, idle: 1, realtimePeriod: 100000, realtimeRuntime: 5000, cpus: '0', mems: '0' },
      pids: { limit: 32 },
      blockIO: {
        weight: 300,
        leafWeight: 200,
        weightDevice: [{ major: 254, minor: 0, weight: 400, leafWeight: 100 }],
        throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 254, minor: 0, rate: 2097152 }],
        throttleReadIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
        throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 200 }],
      },
      hugepageLimits: [{ pageSize: '2MB', limit: 4 << 21 }],
      network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }] },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 1000 } },
    };
    const warnings: string[] = [];
    const plan = planResourcesV1(r, v1Host(tree.paths), warnings);
    expect(warnings).toEqual([KERNEL_MEMORY_WARNING]);
    expect(plan.map((w) => [w.file, w.value, w.field.replace('/linux/resources/', '')])).toEqual([
      ['memory.limit_in_bytes', String(256 << 20), 'memory/limit'],
      ['memory.memsw.limit_in_bytes', String(512 << 20), 'memory/swap'],
      ['memory.kmem.tcp.limit_in_bytes', String(4 << 20), 'memory/kernelTCP'],
      ['memory.soft_limit_in_bytes', String(128 << 20), 'memory/reservation'],
      ['memory.oom_control', '1', 'memory/disableOOMKiller'],
      ['memory.swappiness', '10', 'memory/swappiness'],
      ['cpu.shares', '512', 'cpu/shares'],
      ['cpu.cfs_period_us', '50000', 'cpu/period'],
      ['cpu.cfs_quota_us', '25000', 'cpu/quota'],
      ['cpu.cfs_burst_us', '1000', 'cpu/burst'],
      ['cpu.idle', '1', 'cpu/idle'],
      ['cpu.rt_period_us', '100000', 'cpu/realtimePeriod'],
      ['cpu.rt_runtime_us', '5000', 'cpu/realtimeRuntime'],
      ['cpuset.cpus', '0', 'cpu/cpus'],
      ['cpuset.mems', '0', 'cpu/mems'],
      ['pids.max', '32', 'pids/limit'],
      ['blkio.weight', '300', 'blockIO/weight'],
      ['blkio.leaf_weight', '200', 'blockIO/leafWeight'],
      ['blkio.weight_device', '254:0 400', 'blockIO/weightDevice/0/weight'],
      ['blkio.leaf_weight_device', '254:0 100', 'blockIO/weightDevice/0/leafWeight'],
      ['blkio.throttle.read_bps_device', '254:0 1048576', 'blockIO/throttleReadBpsDevice/0'],
      ['blkio.throttle.write_bps_device', '254:0 2097152', 'blockIO/throttleWriteBpsDevice/0'],
      ['blkio.throttle.read_iops_device', '254:0 100', 'blockIO/throttleReadIOPSDevice/0'],
      ['blkio.throttle.write_iops_device', '254:0 200', 'blockIO/throttleWriteIOPSDevice/0'],
      ['hugetlb.2MB.limit_in_bytes', String(4 << 21), 'hugepageLimits/0/limit'],
      ['hugetlb.2MB.rsvd.limit_in_bytes', String(4 << 21), 'hugepageLimits/0/limit'],
      ['net_cls.classid', String(0x100001), 'network/classID'],
      ['net_prio.ifpriomap', 'eth0 5', 'network/priorities/0'],
      ['rdma.max', 'mlx5_1 hca_handle=3 hca_object=1000', 'rdma/mlx5_1'],
    ]);
    // The period may be refused against the old runtime/quota until its partner is written.
    expect(plan.filter((w) => w.deferOnEinval).map((w) => w.file)).toEqual(['cpu.cfs_period_us', 'cpu.rt_period_us']);
  });

  it('writes the files of the container cgroup: net_cls/net_prio, hugetlb, rdma, kernelTCP, realtime, throttles', () => {
    tree = makeFakeV1Tree(ALL);
    applyResources(tree.paths, {
      memory: { kernelTCP: 8 << 20 },
      cpu: { realtimePeriod: 200000, realtimeRuntime: 10000 },
      blockIO: { throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 50 }] },
      hugepageLimits: [{ pageSize: '1GB', limit: 1 << 30 }],
      network: { classID: 42, priorities: [{ name: 'lo', priority: 3 }] },
      rdma: { mlx4_0: { hcaObjects: 7 } },
    });
    expect(tree.read('memory', 'memory.kmem.tcp.limit_in_bytes')).toBe(String(8 << 20));
    expect(tree.read('cpu,cpuacct', 'cpu.rt_period_us')).toBe('200000');
    expect(tree.read('cpu,cpuacct', 'cpu.rt_runtime_us')).toBe('10000');
    expect(tree.read('blkio', 'blkio.throttle.write_iops_device')).toBe('254:0 50');
    expect(tree.read('hugetlb', 'hugetlb.1GB.limit_in_bytes')).toBe(String(1 << 30));
    expect(tree.read('net_cls,net_prio', 'net_cls.classid')).toBe('42');
    expect(tree.read('net_cls,net_prio', 'net_prio.ifpriomap')).toBe('lo 3');
    expect(tree.read('rdma', 'rdma.max')).toBe('mlx4_0 hca_object=7');
  });

  it('uses BFQ\'s blkio files when CFQ\'s are absent, and names the field when neither exists', () => {
    tree = makeFakeV1Tree(['blkio'], { extra: { 'blkio.bfq.weight': '100', 'blkio.bfq.weight_device': '' } });
    applyResources(tree.paths, { blockIO: { weight: 250 } });
    expect(tree.read('blkio', 'blkio.bfq.weight')).toBe('250');
    applyResources(tree.paths, { blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 600 }] } });
    expect(tree.read('blkio', 'blkio.bfq.weight_device')).toBe('8:0 600');
    tree.cleanup();
    tree = makeFakeV1Tree(['blkio']);
    const e = thrown(() => applyResources(tree.paths, { blockIO: { weight: 250 } }));
    expect(isInvalidArgument(e)).toBe(true);
    expect(e?.message).toMatch(/^\/linux\/resources\/blockIO\/weight: this kernel has neither blkio.weight \(CFQ\) nor blkio.bfq.weight \(BFQ\) here/);
    expect(thrown(() => applyResources(tree.paths, { blockIO: { leafWeight: 100 } }))?.message).toMatch(/^\/linux\/resources\/blockIO\/leafWeight: this kernel has no blkio.leaf_weight here/);
    expect(thrown(() => applyResources(tree.paths, { blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 10 }] } }))?.message).toMatch(/^\/linux\/resources\/blockIO\/weightDevice\/0\/weight: /);
  });

  it('refuses what this host has not mounted, naming the field: net_cls, net_prio, rdma, hugetlb, blkio', () => {
    // This machine's v1 controllers: no net_cls, net_prio, hugetlb or rdma hierarchy.
    const here = v1PrecheckHost(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd']);
    const cases: Array<[LinuxResources, string, string]> = [
      [{ network: { classID: 1 } }, '/linux/resources/network/classID', 'net_cls'],
      [{ network: { priorities: [{ name: 'eth0', priority: 1 }] } }, '/linux/resources/network/priorities/0', 'net_prio'],
      [{ rdma: { mlx5_0: { hcaHandles: 1 } } }, '/linux/resources/rdma/mlx5_0', 'rdma'],
      [{ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }, '/linux/resources/hugepageLimits/0', 'hugetlb'],
    ];
    for (const [r, field, c] of cases) {
      const e = thrown(() => planResourcesV1(r, here));
      expect(isInvalidArgument(e)).toBe(true);
      expect(e?.message).toBe(`${field}: the ${c} controller is not mounted here (no cgroup v1 hierarchy of this process has it)`);
    }
    expect(thrown(() => planResourcesV1({ blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] } }, v1PrecheckHost(['memory'])))?.message).toMatch(
      /^\/linux\/resources\/blockIO\/throttleReadBpsDevice: the blkio controller is not mounted here/,
    );
    // Everything this host has passes the pre-check.
    expect(() => planResourcesV1({ blockIO: { weight: 100 }, cpu: { realtimeRuntime: 1000 }, memory: { kernelTCP: 1 << 20 } }, here)).not.toThrow();
  });

  it('refuses unified on v1, bad values, and files the kernel lacks; ignores memory.kernel with a warning', () => {
    tree = makeFakeV1Tree(ALL, { omit: ['memory.kmem.tcp.limit_in_bytes', 'cpu.rt_runtime_us', 'cpu.rt_period_us', 'hugetlb.1GB.limit_in_bytes'] });
    const host = v1Host(tree.paths);
    const cases: Array<[LinuxResources, RegExp]> = [
      [{ unified: { 'memory.high': '1' } }, /^\/linux\/resources\/unified: cgroup v2 settings cannot be applied/],
      [{ memory: { kernelTCP: 1 } }, /^\/linux\/resources\/memory\/kernelTCP: this kernel has no memory.kmem.tcp.limit_in_bytes/],
      [{ memory: { swappiness: 101 } }, /^\/linux\/resources\/memory\/swappiness: must be within 0..100/],
      [{ cpu: { realtimeRuntime: 1000 } }, /^\/linux\/resources\/cpu\/realtimeRuntime: this kernel has no cpu.rt_runtime_us here \(no realtime group scheduling/],
      [{ cpu: { realtimePeriod: 1000 } }, /^\/linux\/resources\/cpu\/realtimePeriod: /],
      [{ cpu: { idle: 3 } }, /^\/linux\/resources\/cpu\/idle: must be 0 or 1/],
      [{ hugepageLimits: [{ pageSize: '1GB', limit: 1 }] }, /^\/linux\/resources\/hugepageLimits\/0\/pageSize: this kernel has no 1GB huge pages/],
      [{ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }, /^\/linux\/resources\/hugepageLimits\/0\/pageSize: must look like/],
      [{ network: { priorities: [{ name: 'a b', priority: 1 }] } }, /^\/linux\/resources\/network\/priorities\/0\/name: /],
      [{ rdma: { mlx: {} } }, /^\/linux\/resources\/rdma\/mlx: sets neither/],
      [{ devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: 'x' }] }, /^\/linux\/resources\/devices\/0\/access: /],
    ];
    for (const [r, re] of cases) {
      const e = thrown(() => planResourcesV1(r, host));
      expect(isInvalidArgument(e)).toBe(true);
      expect(e?.message).toMatch(re);
    }
    const warnings: string[] = [];
    expect(planResourcesV1({ memory: { kernel: 1 << 20 } }, host, warnings)).toEqual([]);
    expect(warnings).toEqual([KERNEL_MEMORY_WARNING]);
  });

  it('a write the kernel refuses names the field; a missing file is NotFound naming it', () => {
    tree = makeFakeV1Tree(['pids']);
    const plan = planResourcesV1({ pids: { limit: 5 } }, v1PrecheckHost(['pids']));
    fs.rmSync(path.join(tree.paths['pids'] as string, 'pids.max'));
    const e = thrown(() => executeV1(tree.paths, plan));
    expect(isNotFound(e)).toBe(true);
    expect(e?.message).toMatch(/^\/linux\/resources\/pids\/limit: this kernel has no pids.max here/);
  });

  it('orders memory and swap so memsw never drops below the limit', () => {
    tree = makeFakeV1Tree(['memory']);
    const host = v1Host(tree.paths);
    fs.writeFileSync(path.join(tree.paths['memory'] as string, 'memory.limit_in_bytes'), String(64 << 20));
    const files = (r: LinuxResources) => planResourcesV1(r, host).map((w) => w.file);
    // Raising both above the current limit: swap first.
    expect(files({ memory: { limit: 128 << 20, swap: 256 << 20 } })).toEqual(['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
    // Lowering: the limit first.
    expect(files({ memory: { limit: 16 << 20, swap: 32 << 20 } })).toEqual(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
    // Unlimited memory without a swap setting: swap unlimited too, first.
    expect(planResourcesV1({ memory: { limit: -1 } }, host).map((w) => [w.file, w.value])).toEqual([
      ['memory.memsw.limit_in_bytes', '-1'],
      ['memory.limit_in_bytes', '-1'],
    ]);
  });

  it('writes the config device rules then runc\'s defaults', () => {
    const plan = planResourcesV1({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229 }] }, v1PrecheckHost(['devices']));
    expect(plan.slice(0, 4).map((w) => [w.file, w.value])).toEqual([
      ['devices.deny', 'a'],
      ['devices.allow', 'c 10:229 rwm'],
      ['devices.allow', 'c *:* m'],
      ['devices.allow', 'b *:* m'],
    ]);
    expect(plan).toHaveLength(13);
  });

  it('reads stats by controller, so joint hierarchies (cpu,cpuacct) are found', () => {
    tree = makeFakeV1Tree(['cpu,cpuacct', 'pids', 'blkio'], { extra: { 'cpuacct.usage': '123456', 'pids.current': '4' } });
    fs.writeFileSync(path.join(tree.paths['blkio'] as string, 'blkio.throttle.io_serviced_recursive'), '254:0 Read 3\n254:0 Write 5\nTotal 8\n');
    fs.writeFileSync(path.join(tree.paths['blkio'] as string, 'blkio.throttle.io_service_bytes_recursive'), '254:0 Read 4096\n254:0 Write 8192\nTotal 12288\n');
    const st = stats(tree.paths) as { cpu: { usage: { total: number } }; pids: { current: number }; blkio: Record<string, unknown> };
    expect(st.cpu.usage.total).toBe(123456);
    expect(st.pids.current).toBe(4);
    expect(st.blkio).toEqual({
      ioServiceBytesRecursive: [
        { major: 254, op: 'Read', value: 4096 },
        { major: 254, op: 'Write', value: 8192 },
      ],
      ioServicedRecursive: [
        { major: 254, op: 'Read', value: 3 },
        { major: 254, op: 'Write', value: 5 },
      ],
    });
  });
});

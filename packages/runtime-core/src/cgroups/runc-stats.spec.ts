import * as path from 'node:path';
import { blkioEntry, hugePageSizeName, memoryEntry, omitEmpty, parseBlkioV1, parseCpuList, parseIoStatV2, parseUsageAll } from './runc-stats';
import { blkioStats } from './v1';
import { createCgroupV2, runcStatsV2 } from './v2';
import { makeFakeTree, type FakeTree } from './fake-tree';

describe('runc stats parsers', () => {
  it('parses v1 blkio files as runc: device, op and value, Total left out, zero fields omitted', () => {
    const text = '8:0 Read 4096\n8:0 Write 0\n8:0 Sync 4096\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 4096\n253:1 Read 12\nTotal 4108\n';
    expect(parseBlkioV1(text)).toEqual([
      { major: 8, op: 'Read', value: 4096 },
      { major: 8, op: 'Write' },
      { major: 8, op: 'Sync', value: 4096 },
      { major: 8, op: 'Async' },
      { major: 8, op: 'Discard' },
      { major: 8, op: 'Total', value: 4096 },
      { major: 253, minor: 1, op: 'Read', value: 12 },
    ]);
    // sectors_recursive / time_recursive: no op.
    expect(parseBlkioV1('8:16 128\n8:0 0\n')).toEqual([{ major: 8, minor: 16, value: 128 }, { major: 8 }]);
    expect(parseBlkioV1('')).toEqual([]);
    expect(parseBlkioV1('Total 0\n')).toEqual([]);
    expect(parseBlkioV1('garbage\n8:x Read 1\n8:0 Read nope\n')).toEqual([]);
    // Key order of runc's BlkioEntry.
    expect(Object.keys(blkioEntry(8, 1, 'Read', 3))).toEqual(['major', 'minor', 'op', 'value']);
  });

  it('maps v2 io.stat onto v1 blkio fields as runc (bytes and ios per direction; discards ignored)', () => {
    expect(parseIoStatV2('8:0 rbytes=1024 wbytes=2048 rios=3 wios=0 dbytes=0 dios=0\n259:2 rbytes=5 wbytes=0 rios=1 wios=0 dbytes=7 dios=1\n')).toEqual({
      ioServiceBytesRecursive: [
        { major: 8, op: 'Read', value: 1024 },
        { major: 8, op: 'Write', value: 2048 },
        { major: 259, minor: 2, op: 'Read', value: 5 },
        { major: 259, minor: 2, op: 'Write' },
      ],
      ioServicedRecursive: [
        { major: 8, op: 'Read', value: 3 },
        { major: 8, op: 'Write' },
        { major: 259, minor: 2, op: 'Read', value: 1 },
        { major: 259, minor: 2, op: 'Write' },
      ],
    });
    expect(parseIoStatV2('')).toEqual({});
  });

  it('chooses the v1 blkio files as runc 1.1: CFQ when it has data, else the recursive throttle files, else the plain ones', () => {
    const files = (m: Record<string, string>) => (_dir: string, f: string) => m[f];
    const cfq = blkioStats(
      '/cg',
      files({
        'blkio.sectors_recursive': '8:0 8\n',
        'blkio.io_service_time_recursive': '8:0 Read 10\nTotal 10\n',
        'blkio.io_wait_time_recursive': '8:0 Read 11\n',
        'blkio.io_merged_recursive': '8:0 Read 12\n',
        'blkio.io_queued_recursive': '8:0 Read 13\n',
        'blkio.time_recursive': '8:0 14\n',
        'blkio.io_serviced_recursive': '8:0 Read 1\n',
        'blkio.io_service_bytes_recursive': '8:0 Read 4096\n',
        'blkio.throttle.io_serviced_recursive': '8:0 Read 99\n',
      }),
    );
    expect(Object.keys(cfq)).toEqual(['ioServiceBytesRecursive', 'ioServicedRecursive', 'ioQueueRecursive', 'ioServiceTimeRecursive', 'ioWaitTimeRecursive', 'ioMergedRecursive', 'ioTimeRecursive', 'sectorsRecursive']);
    expect(cfq.ioQueueRecursive).toEqual([{ major: 8, op: 'Read', value: 13 }]);
    expect(cfq.sectorsRecursive).toEqual([{ major: 8, value: 8 }]);

    const throttle = blkioStats('/cg', files({ 'blkio.sectors_recursive': '', 'blkio.throttle.io_serviced_recursive': '8:0 Read 2\nTotal 2\n', 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 8192\n' }));
    expect(throttle).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 8192 }], ioServicedRecursive: [{ major: 8, op: 'Read', value: 2 }] });

    const plain = blkioStats('/cg', files({ 'blkio.throttle.io_serviced_recursive': 'Total 0\n', 'blkio.throttle.io_serviced': '8:0 Write 1\n', 'blkio.throttle.io_service_bytes': '8:0 Write 512\n' }));
    expect(plain).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: 'Write', value: 512 }], ioServicedRecursive: [{ major: 8, op: 'Write', value: 1 }] });

    // A container that did no I/O (the usual case), or no blkio hierarchy: an empty object.
    expect(blkioStats('/cg', files({ 'blkio.throttle.io_serviced_recursive': 'Total 0\n' }))).toEqual({});
    expect(blkioStats(undefined)).toEqual({});
  });

  it('parses cpuset lists, cpuacct.usage_all and hugepage size names', () => {
    expect(parseCpuList('0-3,6,8-9\n')).toEqual([0, 1, 2, 3, 6, 8, 9]);
    expect(parseCpuList('\n')).toEqual([]);
    expect(parseUsageAll('cpu user system\n0 100 200\n1 300 0\n')).toEqual({ user: [100, 300], kernel: [200, 0] });
    expect(hugePageSizeName('hugepages-2048kB')).toBe('2MB');
    expect(hugePageSizeName('hugepages-1048576kB')).toBe('1GB');
    expect(hugePageSizeName('hugepages-64kB')).toBe('64KB');
    expect(hugePageSizeName('other')).toBeUndefined();
  });

  it('omits empty fields as Go omitempty, keeping the others (and their order)', () => {
    expect(omitEmpty({ a: 0, b: 0, c: [], d: {}, e: '', f: 1 }, ['a', 'c', 'd', 'e'])).toEqual({ b: 0, f: 1 });
    expect(memoryEntry(5, 0, 0, 0)).toEqual({ limit: 5, failcnt: 0 });
    expect(Object.keys(memoryEntry(5, 1, 2, 3))).toEqual(['limit', 'usage', 'max', 'failcnt']);
  });
});

describe('runcStatsV2', () => {
  let tree: FakeTree | undefined;
  afterEach(() => {
    tree?.cleanup();
    tree = undefined;
  });

  it('prints v2 data in runc shape: cpu in ns, memory with swap as memsw, pids, blkio from io.stat', () => {
    tree = makeFakeTree();
    const leaf = path.join(tree.ownDir, 'c1');
    createCgroupV2(leaf, tree.ownDir, ['memory', 'cpu', 'pids', 'io', 'hugetlb'], tree.fs);
    tree.setFile(leaf, 'memory.current', '10485760\n');
    tree.setFile(leaf, 'memory.max', '20971520\n');
    tree.setFile(leaf, 'memory.swap.current', '0\n');
    tree.setFile(leaf, 'memory.swap.max', '0\n');
    tree.setFile(leaf, 'memory.stat', 'anon 6291456\nfile 4194304\n');
    tree.setFile(leaf, 'cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n');
    tree.setFile(leaf, 'pids.current', '3\n');
    tree.setFile(leaf, 'pids.max', 'max\n');
    tree.setFile(leaf, 'io.stat', '8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n');
    tree.setFile(leaf, 'hugetlb.2MB.current', '0\n');
    tree.setFile(leaf, 'hugetlb.2MB.events', 'max 2\n');
    const s = runcStatsV2(leaf, tree.fs, ['2MB', '16GB']);
    expect(Object.keys(s)).toEqual(['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
    expect(s['cpu']).toEqual({ usage: { total: 1_500_000, kernel: 500_000, user: 1_000_000 }, throttling: {} });
    expect(s['memory']).toEqual({
      cache: 4194304,
      usage: { limit: 20971520, usage: 10485760, failcnt: 0 },
      swap: { limit: 20971520, usage: 10485760, failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw: { anon: 6291456, file: 4194304 },
    });
    tree.setFile(leaf, 'memory.max', 'max\n');
    tree.setFile(leaf, 'memory.stat', 'zswap 1\nanon 2\n');
    const unlimited = runcStatsV2(leaf, tree.fs)['memory'] as { usage: { limit: number }; raw: Record<string, number> };
    // "max" prints as a number a Go uint64 accepts (<= MaxUint64), and raw in Go's map key order.
    expect(BigInt(JSON.stringify(unlimited.usage.limit))).toBeLessThanOrEqual(2n ** 64n - 1n);
    expect(unlimited.usage.limit).toBeGreaterThan(2 ** 63);
    expect(Object.keys(unlimited.raw)).toEqual(['anon', 'zswap']);
    expect(s['pids']).toEqual({ current: 3 });
    expect(s['blkio']).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 4096 }, { major: 8, op: 'Write' }], ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }, { major: 8, op: 'Write' }] });
    expect(s['hugetlb']).toEqual({ '2MB': { failcnt: 2 } });
    expect(s['network_interfaces']).toBeNull();
  });
});

import * as path from 'node:path';
import { isFailedPrecondition, isInvalidArgument } from '@podkit/errdefs';
import { backendOf, resourceWarnings, resourcesUnavailable, selectBackend, UNIFIED_KEY, v1Backend, v2Backend } from './backend';
import { makeFakeTree, type FakeTree } from './fake-tree';
import type { CgroupLayout } from './v2';

describe('cgroup backend selection and the v2 backend (fake cgroupfs tree)', () => {
  let tree: FakeTree;
  let layout: CgroupLayout & { mode: 'v2' };
  beforeEach(() => {
    tree = makeFakeTree();
    layout = { mode: 'v2', unified: { mountpoint: tree.root, own: '/own' } };
  });
  afterEach(() => tree.cleanup());

  it('picks v2 only on a pure cgroup2 host; hybrid and v1 hosts keep v1', () => {
    expect(selectBackend(layout, tree.fs).version).toBe(2);
    expect(selectBackend({ mode: 'hybrid', v1: [], unified: layout.unified }, tree.fs)).toBe(v1Backend);
    expect(selectBackend({ mode: 'v1', v1: [] }, tree.fs)).toBe(v1Backend);
    expect(backendOf({ [UNIFIED_KEY]: '/x' }).version).toBe(2);
    expect(backendOf({ memory: '/sys/fs/cgroup/memory/x' })).toBe(v1Backend);
  });

  it('makes paths beneath its own cgroup and runs a container cgroup through its life', async () => {
    const b = v2Backend(layout.unified, tree.fs);
    const paths = b.paths('pods/c1', 'c1');
    const dir = path.join(tree.ownDir, 'pods', 'c1');
    expect(paths).toEqual({ [UNIFIED_KEY]: dir });
    expect(b.mounts(paths)).toEqual({ v2: dir });
    expect(() => b.paths('/elsewhere', 'c1')).toThrow(/not beneath this process's own cgroup/);

    b.create(paths, { memory: { limit: 1 << 26 }, pids: { limit: 50 } });
    expect(tree.writes).toEqual(
      expect.arrayContaining([
        ['own/pods/cgroup.subtree_control', '+memory +pids'],
        ['own/pods/c1/memory.max', String(1 << 26)],
        ['own/pods/c1/pids.max', '50'],
      ]),
    );
    b.apply(paths, { pids: { limit: 60 } });
    expect(tree.fs.read(dir, 'pids.max')).toBe('60');

    b.place(paths, 4242);
    expect(tree.fs.read(dir, 'cgroup.procs')).toBe('4242');
    tree.setFile(dir, 'cgroup.procs', '4242\n4243\n');
    expect(b.pids(paths)).toEqual([4242, 4243]);

    expect(b.canFreeze(paths)).toBe(true);
    expect(b.frozen(paths)).toBe(false);
    await b.setFrozen(paths, true);
    expect(b.frozen(paths)).toBe(true);
    await b.setFrozen(paths, false);
    expect(b.frozen(paths)).toBe(false);

    tree.setFile(dir, 'memory.events', 'low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n');
    expect(b.oomKills(paths)).toBe(1);
    expect(b.stats(paths)).toMatchObject({ cpu: { usage: { kernel: 0, user: 0 } }, memory: { usage: { limit: 67108864, failcnt: 0 } }, blkio: {}, network_interfaces: null });

    await b.remove(paths);
    expect(tree.fs.exists(dir, 'cgroup.procs')).toBe(false);
    await b.remove(paths); // already gone: fine
  });

  it('undoes the levels it created when a resource cannot be written', () => {
    const b = v2Backend(layout.unified, tree.fs);
    const bad = b.paths('c/d', 'y');
    expect(() => b.create(bad, { hugepageLimits: [{ pageSize: '3MB', limit: 1 }] })).toThrow(/hugepageLimits\/0\/pageSize/);
    // Both levels were made (the error comes from the write), then removed again.
    expect(tree.writes).toContainEqual(['own/c/cgroup.subtree_control', '+hugetlb']);
    expect(tree.fs.exists(path.join(tree.ownDir, 'c'), 'cgroup.procs')).toBe(false);
  });

  it('refuses controllers its own cgroup does not delegate, naming the file it will not write', () => {
    tree.cleanup();
    tree = makeFakeTree({ ownSubtree: ['memory'] });
    const b = v2Backend({ mountpoint: tree.root, own: '/own' }, tree.fs);
    let err: unknown;
    try {
      b.create(b.paths('c', 'c'), { pids: { limit: 5 } });
    } catch (e) {
      err = e;
    }
    expect(isFailedPrecondition(err)).toBe(true);
    expect((err as Error).message).toMatch(/controller pids not available here/);
  });

  it('hugepageLimits: the "controller not available here" error on a hybrid host; v1 with a hugetlb hierarchy and v2 write them', () => {
    const r = { hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }] };
    tree.cleanup();
    tree = makeFakeTree({ own: '/', ownSubtree: [] });
    const hybrid: CgroupLayout = { mode: 'hybrid', v1: [{ mountpoint: '/sys/fs/cgroup/memory', controllers: ['memory'], own: '/' }], unified: { mountpoint: tree.root, own: '/' } };
    const e1 = resourcesUnavailable(hybrid, v1Backend, r, tree.fs);
    expect(isInvalidArgument(e1)).toBe(true);
    expect(e1?.message).toMatch(/^\/linux\/resources\/hugepageLimits: controller not available here: hugetlb is only in the cgroup2 mount/);
    const v1WithHugetlb: CgroupLayout = { mode: 'v1', v1: [{ mountpoint: '/sys/fs/cgroup/hugetlb', controllers: ['hugetlb'], own: '/' }] };
    expect(resourcesUnavailable(v1WithHugetlb, v1Backend, r, tree.fs)).toBeUndefined();
    tree.cleanup();
    tree = makeFakeTree();
    const v2: CgroupLayout = { mode: 'v2', unified: { mountpoint: tree.root, own: '/own' } };
    expect(resourcesUnavailable(v2, selectBackend(v2, tree.fs), r, tree.fs)).toBeUndefined();
    expect(resourcesUnavailable(hybrid, v1Backend, { memory: { limit: 1 } }, tree.fs)).toBeUndefined();
  });

  it('checks v1 resources against the controllers this hybrid host mounts, before anything is created', () => {
    tree.cleanup();
    tree = makeFakeTree({ own: '/', ownSubtree: [] });
    const names = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
    const hybrid: CgroupLayout = {
      mode: 'hybrid',
      v1: names.map((n) => ({ mountpoint: `/sys/fs/cgroup/${n}`, controllers: [n], own: '/' })),
      unified: { mountpoint: tree.root, own: '/' },
    };
    expect(resourcesUnavailable(hybrid, v1Backend, { network: { classID: 7 } }, tree.fs)?.message).toBe(
      '/linux/resources/network/classID: the net_cls controller is not mounted here (no cgroup v1 hierarchy of this process has it)',
    );
    expect(resourcesUnavailable(hybrid, v1Backend, { unified: { 'pids.max': '3' } }, tree.fs)?.message).toMatch(/^\/linux\/resources\/unified: /);
    expect(resourcesUnavailable(hybrid, v1Backend, { blockIO: { weight: 100 }, cpu: { realtimeRuntime: 10 }, memory: { kernelTCP: 1 } }, tree.fs)).toBeUndefined();
    expect(resourceWarnings({ memory: { kernel: 1 } })).toEqual(['/linux/resources/memory/kernel is ignored: kernel memory limits are deprecated and not applied (as runc since 1.1)']);
    expect(resourceWarnings({ memory: { limit: 1 } })).toEqual([]);
  });
});

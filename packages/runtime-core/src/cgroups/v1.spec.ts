import { cgroupPaths, type Hierarchy } from './v1';

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

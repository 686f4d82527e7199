import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import type { LinuxIntelRdt } from '@podkit/oci-spec';
import { makeFakeResctrl, type FakeResctrl } from './fake-tree';
import { spawnSync } from 'node:child_process';
import { applyIntelRdt, findResctrlMount, hostResctrlRoot, intelRdtIssues, placeIntelRdt, planIntelRdt, removeIntelRdt, taskAlive } from './resctrl';
import { thrown } from '../test-support/errors';

describe('Intel RDT through resctrl (fake resctrl tree)', () => {
  let t: FakeResctrl;
  afterEach(() => t?.cleanup());

  it('finds the resctrl mount in mountinfo; none on this host gives "resctrl is not mounted" for /linux/intelRdt', () => {
    const mi = '30 20 0:40 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n41 22 0:45 / /sys/fs/resctrl rw,relatime - resctrl resctrl rw\n';
    expect(findResctrlMount(mi)).toBe('/sys/fs/resctrl');
    expect(findResctrlMount('30 20 0:40 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n')).toBeUndefined();
    const e = thrown(() => planIntelRdt({ l3CacheSchema: 'L3:0=f' }, 'c1', undefined));
    expect(isInvalidArgument(e)).toBe(true);
    expect(e?.message).toMatch(/^\/linux\/intelRdt: resctrl is not mounted/);
    if (hostResctrlRoot() === undefined) {
      expect(intelRdtIssues({ closID: 'x' }, 'c1')).toEqual([{ path: '/linux/intelRdt', reason: expect.stringMatching(/^resctrl is not mounted/) as string }]);
    }
  });

  it('makes the group (named by the container id without closID), writes schemata and tasks, removes it', () => {
    t = makeFakeResctrl();
    const p = planIntelRdt({ l3CacheSchema: 'L3:0=7f0;1=1f', memBwSchema: 'MB:0=20;1=70' }, 'c1', t.root, t.fs);
    expect(p).toEqual({ dir: path.join(t.root, 'c1'), schemata: ['L3:0=7f0;1=1f', 'MB:0=20;1=70'] });
    const g = applyIntelRdt(p, t.fs);
    expect(g).toEqual({ dir: path.join(t.root, 'c1'), created: true });
    expect(t.read('c1/schemata')).toBe('L3:0=7f0;1=1f\nMB:0=20;1=70\n');
    placeIntelRdt(g, 4242, t.fs);
    placeIntelRdt(g, 4243, t.fs);
    expect(t.read('c1/tasks')).toBe('4242\n4243\n');
    // Those tasks have exited (the container is deleted): the group goes.
    expect(removeIntelRdt(g, t.fs, () => false)).toBeUndefined();
    expect(fs.existsSync(g.dir)).toBe(false);
    removeIntelRdt(g, t.fs); // gone already: fine
  });

  it('joins an existing closID group when its schemata match, refuses it when they differ, and never removes it', () => {
    t = makeFakeResctrl();
    const first = applyIntelRdt(planIntelRdt({ closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0;1=1f' }, 'c1', t.root, t.fs), t.fs);
    expect(first.created).toBe(true);
    // Same schemata (the kernel pads: 07f0 is 7f0), or none at all: join.
    const joined = applyIntelRdt(planIntelRdt({ closID: 'guaranteed', l3CacheSchema: 'L3:0=07f0' }, 'c2', t.root, t.fs), t.fs);
    expect(joined).toEqual({ dir: path.join(t.root, 'guaranteed'), created: false });
    expect(applyIntelRdt(planIntelRdt({ closID: 'guaranteed' }, 'c3', t.root, t.fs), t.fs).created).toBe(false);
    const e = thrown(() => applyIntelRdt(planIntelRdt({ closID: 'guaranteed', l3CacheSchema: 'L3:0=ff' }, 'c4', t.root, t.fs), t.fs));
    expect(e?.message).toMatch(/^\/linux\/intelRdt: the CLOS group guaranteed exists with other schemata/);
    removeIntelRdt(joined, t.fs);
    expect(fs.existsSync(joined.dir)).toBe(true);
  });

  it('a group it made that other tasks still use (joined by closID) is left in place with a warning', () => {
    t = makeFakeResctrl();
    const g = applyIntelRdt(planIntelRdt({ closID: 'shared' }, 'c1', t.root, t.fs), t.fs);
    placeIntelRdt(g, 4242, t.fs);
    placeIntelRdt(g, 4300, t.fs);
    expect(removeIntelRdt(g, t.fs, (tid) => tid === 4300)).toBe(`/linux/intelRdt: the CLOS group ${g.dir} is left in place: other containers joined it by closID and still use it (tasks 4300)`);
    expect(fs.existsSync(g.dir)).toBe(true);
    // Liveness from /proc: this process runs; a reaped child does not.
    expect(taskAlive(process.pid)).toBe(true);
    const child = spawnSync('true');
    expect(taskAlive(child.pid as number)).toBe(false);
  });

  it('names the field of what the host lacks or the config gets wrong', () => {
    t = makeFakeResctrl({ cat: true, mba: false, monFeatures: ['llc_occupancy'] });
    const cases: Array<[LinuxIntelRdt, RegExp]> = [
      [{ memBwSchema: 'MB:0=20' }, /^\/linux\/intelRdt\/memBwSchema: Intel RDT memory bandwidth allocation \(MBA\) is not enabled here/],
      [{ enableMBM: true }, /^\/linux\/intelRdt\/enableMBM: memory bandwidth monitoring/],
      [{ l3CacheSchema: 'MB:0=20' }, /^\/linux\/intelRdt\/l3CacheSchema: "MB:0=20" is not a L3\/L3CODE\/L3DATA schema line/],
      [{ l3CacheSchema: 'L3:zero' }, /^\/linux\/intelRdt\/l3CacheSchema: "L3:zero" must list/],
      [{ closID: '../x' }, /^\/linux\/intelRdt\/closID: must be a plain folder name/],
      [{ closID: 'info' }, /^\/linux\/intelRdt\/closID: /],
    ];
    for (const [rdt, re] of cases) {
      const e = thrown(() => planIntelRdt(rdt, 'c1', t.root, t.fs));
      expect(isInvalidArgument(e)).toBe(true);
      expect(e?.message).toMatch(re);
    }
    expect(() => planIntelRdt({ enableCMT: true, l3CacheSchema: 'L3:0=f' }, 'c1', t.root, t.fs)).not.toThrow();
    t.cleanup();
    t = makeFakeResctrl({ cat: false });
    expect(thrown(() => planIntelRdt({ l3CacheSchema: 'L3:0=f' }, 'c1', t.root, t.fs))?.message).toMatch(/^\/linux\/intelRdt\/l3CacheSchema: Intel RDT cache allocation \(CAT\) is not enabled here/);
    expect(intelRdtIssues({ enableCMT: true }, 'c1', t.root, t.fs)).toEqual([{ path: '/linux/intelRdt/enableCMT', reason: expect.stringMatching(/^cache monitoring/) as string }]);
  });

  it('a schemata the kernel refuses names the field with its reason, and the new group is removed', () => {
    t = makeFakeResctrl();
    // Domain 7 does not exist on this (fake) machine.
    const e = thrown(() => applyIntelRdt(planIntelRdt({ l3CacheSchema: 'L3:7=f' }, 'c1', t.root, t.fs), t.fs));
    expect(isInvalidArgument(e)).toBe(true);
    expect(e?.message).toBe('/linux/intelRdt: the kernel refused the schemata "L3:7=f" (EINVAL: Unknown domain id 7)');
    expect(fs.existsSync(path.join(t.root, 'c1'))).toBe(false);
  });
});

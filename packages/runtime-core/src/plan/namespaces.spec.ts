import { isInvalidArgument } from '@podkit/errdefs';
import { defaultSpec, type Spec } from '@podkit/oci-spec';
import { buildCreatePlan, buildExecPlan } from './build';
import { MOUNT_ATTR } from './tables';

const ctx = { bundle: '/b', execFifo: '/run/x/exec.fifo', cgroupMounts: [] };
const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

function spec(mutate?: (s: Spec) => void): Spec {
  const s = defaultSpec({ terminal: false, args: ['sh'] });
  mutate?.(s);
  return s;
}

function issuesOf(mutate: (s: Spec) => void): { path: string; reason: string }[] {
  try {
    buildCreatePlan(spec(mutate), ctx);
  } catch (err) {
    expect(isInvalidArgument(err)).toBe(true);
    return (err as { details?: { issues?: { path: string; reason: string }[] } }).details?.issues ?? [];
  }
  throw new Error('expected an InvalidArgument error');
}
const paths = (mutate: (s: Spec) => void) => issuesOf(mutate).map((i) => i.path);

const userns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = MAP;
  s.linux!.gidMappings = MAP;
};

describe('user namespace plan', () => {
  it('clones a user namespace with its maps for the parent to write; binds become detached', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        userns(s);
        s.mounts!.push({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind'] });
      }),
      ctx,
    );
    expect(plan.clone).toContain('user');
    expect(plan.userns).toEqual({ uidMappings: MAP, gidMappings: MAP, setgroups: process.geteuid?.() === 0 ? 'allow' : 'deny' });
    expect(plan.rootfs!.mounts.at(-1)).toMatchObject({ source: '/srv', detached: true });
    expect(plan.rootfs!.mounts.find((m) => m.destination === '/proc')?.detached).toBeUndefined();
  });

  it('joins a user namespace by path (first in the join list)', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        s.linux!.namespaces = [{ type: 'mount' }, { type: 'uts' }, { type: 'network', path: '/run/netns/x' }, { type: 'user', path: '/proc/7/ns/user' }];
      }),
      ctx,
    );
    expect(plan.join.map((j) => j.type)).toEqual(['user', 'network']);
    expect(plan.userns).toEqual({ setgroups: process.geteuid?.() === 0 ? 'allow' : 'deny' });
  });

  it('refuses maps without a user namespace, a new one without maps, overlaps and unmapped process ids', () => {
    expect(
      paths((s) => {
        s.linux!.uidMappings = MAP;
        s.linux!.gidMappings = MAP;
      }),
    ).toEqual(['/linux/uidMappings', '/linux/gidMappings']);
    expect(paths((s) => s.linux!.namespaces!.push({ type: 'user' }))).toEqual(['/linux/uidMappings', '/linux/gidMappings']);
    const overlap = issuesOf((s) => {
      userns(s);
      s.linux!.uidMappings = [
        { containerID: 0, hostID: 100000, size: 1000 },
        { containerID: 500, hostID: 300000, size: 10 },
        { containerID: 2000, hostID: 100500, size: 10 },
        { containerID: 3000, hostID: 400000, size: 0 },
      ];
    });
    expect(overlap.map((i) => i.path)).toEqual(['/linux/uidMappings/1', '/linux/uidMappings/2', '/linux/uidMappings/3/size']);
    expect(overlap[0]?.reason).toMatch(/containerID range \[500, 510\) overlaps that of \/linux\/uidMappings\/0/);
    expect(overlap[1]?.reason).toMatch(/hostID range/);
    expect(
      paths((s) => {
        userns(s);
        s.process!.user = { uid: 70000, gid: 0, additionalGids: [1, 99999] };
      }),
    ).toEqual(['/process/user/uid', '/process/user/additionalGids/1']);
  });

  it('joins the container user namespace on exec and carries its setgroups state', () => {
    const { plan } = buildExecPlan({ cwd: '/', args: ['sh'] }, 42, ['user', 'pid', 'mount', 'time'], '/process', undefined, 0, undefined, 'deny');
    expect(plan.join).toEqual([
      { type: 'user', path: '/proc/42/ns/user' },
      { type: 'pid', path: '/proc/42/ns/pid' },
      { type: 'time', path: '/proc/42/ns/time' },
      { type: 'mount', path: '/proc/42/ns/mnt' },
    ]);
    expect(plan.userns).toEqual({ setgroups: 'deny' });
    expect(buildExecPlan({ cwd: '/', args: ['sh'] }, 42, ['pid']).plan.userns).toBeUndefined();
  });
});

describe('time namespace, personality', () => {
  it('plans time offsets for a new time namespace', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        s.linux!.namespaces!.push({ type: 'time' });
        s.linux!.timeOffsets = { boottime: { secs: 86400 }, monotonic: { secs: -5, nanosecs: 7 } };
      }),
      ctx,
    );
    expect(plan.clone).toContain('time');
    expect(plan.timeOffsets).toEqual({ boottime: { secs: 86400, nanosecs: 0 }, monotonic: { secs: -5, nanosecs: 7 } });
  });

  it('refuses offsets without a new time namespace, unknown clocks and bad nanoseconds', () => {
    expect(paths((s) => (s.linux!.timeOffsets = { boottime: { secs: 1 } }))).toEqual(['/linux/timeOffsets']);
    expect(
      paths((s) => {
        s.linux!.namespaces!.push({ type: 'time', path: '/proc/1/ns/time' });
        s.linux!.timeOffsets = { boottime: { secs: 1 } };
      }),
    ).toEqual(['/linux/timeOffsets']);
    expect(
      paths((s) => {
        s.linux!.namespaces!.push({ type: 'time' });
        s.linux!.timeOffsets = { realtime: { secs: 1 }, monotonic: { secs: 1, nanosecs: 1e9 } } as never;
      }),
    ).toEqual(['/linux/timeOffsets/realtime', '/linux/timeOffsets/monotonic/nanosecs']);
  });

  it('turns the personality into personality(2) bits and refuses unknown flags', () => {
    expect(buildCreatePlan(spec((s) => (s.linux!.personality = { domain: 'LINUX32', flags: ['ADDR_NO_RANDOMIZE'] })), ctx).plan.personality).toBe(0x8 | 0x40000);
    expect(buildCreatePlan(spec((s) => (s.linux!.personality = { domain: 'LINUX' })), ctx).plan.personality).toBe(0);
    expect(paths((s) => (s.linux!.personality = { domain: 'LINUX', flags: ['NOPE'] }))).toEqual(['/linux/personality/flags/0']);
  });
});

describe('mount extensions', () => {
  const mountOf = (m: NonNullable<Spec['mounts']>[number], mutate?: (s: Spec) => void) =>
    buildCreatePlan(
      spec((s) => {
        mutate?.(s);
        s.mounts!.push(m);
      }),
      ctx,
    ).plan.rootfs!.mounts.at(-1);

  it('turns recursive options into mount_setattr bits, clearing the atime field when setting one', () => {
    expect(mountOf({ destination: '/d', type: 'bind', source: '/s', options: ['rbind', 'rro', 'rnosuid', 'rnoatime', 'rexec', 'ro'] })).toMatchObject({
      flags: 0x1000 | 0x4000 | 0x1,
      recAttr: { set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOATIME, clr: MOUNT_ATTR.ATIME_MASK | MOUNT_ATTR.NOEXEC },
    });
    expect(mountOf({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['rro', 'rrw', 'mode=755'] })).toMatchObject({ data: 'mode=755', recAttr: { set: 0, clr: MOUNT_ATTR.RDONLY } });
    expect(mountOf({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['ro'] })?.recAttr).toBeUndefined();
  });

  it('refuses filesystem options on a bind mount (the kernel would ignore them)', () => {
    expect(paths((s) => s.mounts!.push({ destination: '/d', type: 'bind', source: '/s', options: ['rbind', 'mode=755', 'ro', 'size=1m'] }))).toEqual([
      `/mounts/${spec().mounts!.length}/options/1`,
      `/mounts/${spec().mounts!.length}/options/3`,
    ]);
  });

  it('idmaps a bind with its own maps, or with the container maps for a bare idmap/ridmap', () => {
    const own = [{ containerID: 1000, hostID: 2000, size: 1 }];
    expect(mountOf({ destination: '/d', type: 'bind', source: '/s', options: ['bind'], uidMappings: own, gidMappings: own })).toMatchObject({
      detached: true,
      idmap: { uidMappings: own, gidMappings: own, recursive: false },
    });
    expect(mountOf({ destination: '/d', type: 'bind', source: '/s', options: ['rbind', 'ridmap'] }, userns)).toMatchObject({ detached: true, idmap: { uidMappings: MAP, gidMappings: MAP, recursive: true } });
  });

  it('refuses idmapped non-binds, one-sided maps and a bare idmap without a user namespace', () => {
    const own = [{ containerID: 0, hostID: 1, size: 1 }];
    expect(paths((s) => s.mounts!.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', uidMappings: own, gidMappings: own }))).toEqual([`/mounts/${spec().mounts!.length}`]);
    expect(paths((s) => s.mounts!.push({ destination: '/d', type: 'bind', source: '/s', options: ['bind'], uidMappings: own }))).toEqual([`/mounts/${spec().mounts!.length}/gidMappings`]);
    expect(paths((s) => s.mounts!.push({ destination: '/d', type: 'bind', source: '/s', options: ['bind', 'idmap'] }))).toEqual([`/mounts/${spec().mounts!.length}/options`]);
    expect(paths((s) => s.mounts!.push({ destination: '/d', type: 'bind', source: '/s', options: ['bind', 'idmap', 'ridmap'] }, { destination: '/e', type: 'bind', source: '/s', options: ['bind'] }))).toContain(
      `/mounts/${spec().mounts!.length}/options/2`,
    );
  });
});
